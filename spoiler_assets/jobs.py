"""Jobs: what a person or a schedule asks to materialize."""

import dagster as dg

# The whole lineage of the served model, from the source files to the registry alias.
champion_job = dg.define_asset_job(
    "champion_job",
    selection=dg.AssetSelection.assets("champion_model").upstream(),
    description="Materialize champion_model and everything it depends on",
)
