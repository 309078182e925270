"""The feature store as assets: offline sources, registry, online store, training set.

Partition-aware: review-level text statistics are written one parquet file per review
month, so a new month writes one file and leaves the others as they are; the online
store then loads only what is newer than its last materialization. Movie metadata
(small) and user history (a cumulative count, cheap to recompute, and each month
depends on all earlier ones) are rewritten whole.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from spoiler_assets.assets.groups import FEATURES
from spoiler_assets.features.repo import MaterializedView
from spoiler_assets.features.retrieval import missing_shares
from spoiler_assets.features.schema import FEATURE_SERVICE, MODEL_FEATURES, USER_FEATURES
from spoiler_assets.features.sources import (
    movie_feature_table,
    review_feature_table,
    user_history_table,
    utc_days,
)
from spoiler_assets.partitions import monthly_output
from spoiler_assets.resources.feature_store import FeatureStoreResource
from spoiler_assets.resources.locations import ReviewSourceResource

REVIEW_SOURCE_DIR = "sources/review_features"


@dataclass(frozen=True)
class FeatureSource:
    """A parquet source of the offline store, as written."""

    uri: str
    rows: int


@dataclass(frozen=True)
class FeatureRegistry:
    """The Feast registry after `apply`."""

    project: str
    registry: str
    online_store: str
    applied: list[str]
    deleted: list[str]


@dataclass(frozen=True)
class OnlineFeatures:
    """What the online store holds: every view up to `cutoff`."""

    online_store: str
    cutoff: datetime
    views: list[MaterializedView]


@dg.asset(group_name=FEATURES, kinds={"feast", "parquet"})
def movie_feature_source(
    movie_details: pd.DataFrame, feature_store: FeatureStoreResource, review_source: ReviewSourceResource
) -> dg.Output[FeatureSource]:
    """`movie_fv` source: runtime, IMDB rating, release year and day, synopsis length,
    genres multi-hot over IMDB's genre list; stamped at each movie's release date, with an
    empty row at the epoch before it, so a review written before the release joins no
    metadata (`rows` counts two per released movie)."""
    table = movie_feature_table(movie_details)
    uri = feature_store.write_source("sources/movie_features.parquet", table)
    return dg.Output(
        FeatureSource(uri, len(table)),
        metadata={"corpus": review_source.corpus_label(), "uri": uri, "rows": len(table)},
    )


@dg.asset(group_name=FEATURES, kinds={"feast", "parquet"})
def user_history_source(
    cleaned_reviews: pd.DataFrame, feature_store: FeatureStoreResource, review_source: ReviewSourceResource
) -> dg.Output[FeatureSource]:
    """`user_history_fv` source: per user and review day, the reviews and spoiler share of
    all days up to it, stamped at the next midnight, so a review sees only earlier days.

    Recomputed over all history, on purpose: the counts are cumulative per user, and a
    landed file may hold late reviews of past months, which change every later day of
    those users; it is also built from `cleaned_reviews`, whose duplicate resolution
    looks across months. It runs with retraining, not on each landed month."""
    table = user_history_table(cleaned_reviews)
    uri = feature_store.write_source("sources/user_history.parquet", table)
    return dg.Output(
        FeatureSource(uri, len(table)),
        metadata={
            "corpus": review_source.corpus_label(),
            "uri": uri,
            "rows": len(table),
            "users": int(table["user_id"].nunique()),
        },
    )


def build_review_feature_source(partitions_def: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    """`review_feature_source` over the review months that the settings define."""

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=FEATURES,
        kinds={"feast", "parquet"},
    )
    def review_feature_source(
        context: dg.AssetExecutionContext,
        cleaned_reviews: pd.DataFrame,
        feature_store: FeatureStoreResource,
        review_source: ReviewSourceResource,
    ) -> dg.Output[Any]:
        """`review_fv` source: text statistics (length, lexicon sentiment, spoiler cues,
        style) of each review, one parquet file per review month."""
        month_of = cleaned_reviews["review_date"].dt.strftime("%Y-%m-01")
        written: dict[str, FeatureSource] = {}
        for month in context.partition_keys:
            relative = f"{REVIEW_SOURCE_DIR}/{month[:7]}.parquet"
            table = review_feature_table(cleaned_reviews[month_of == month])
            if table.empty:  # no file rather than an empty one: nothing for Feast to read
                feature_store.delete_source(relative)
                written[month] = FeatureSource(feature_store.spec().source_uri(relative), 0)
            else:
                written[month] = FeatureSource(feature_store.write_source(relative, table), len(table))
        rows = sum(s.rows for s in written.values())
        context.log.info(f"wrote text statistics of {rows:,} reviews in {len(written)} month(s)")
        metadata: dict[str, Any] = {
            "corpus": review_source.corpus_label(),
            "rows": rows,
            "months": len(written),
        }
        return monthly_output(written, metadata)

    return review_feature_source


@dg.asset(
    group_name=FEATURES,
    kinds={"feast"},
    deps=["movie_feature_source", "user_history_source", "review_feature_source"],
)
def feature_registry(
    context: dg.AssetExecutionContext, feature_store: FeatureStoreResource
) -> dg.Output[FeatureRegistry]:
    """The Feast registry with the definitions of `feature_repo/` applied (`feast apply`):
    entities, sources, feature views, on-demand views and versioned feature services."""
    changes = feature_store.apply()
    spec = feature_store.spec()
    if changes["deleted"]:
        context.log.info(f"removed from the registry: {', '.join(changes['deleted'])}")
    registry = FeatureRegistry(
        spec.project, spec.registry_path, spec.online_description, changes["applied"], changes["deleted"]
    )
    return dg.Output(
        registry,
        metadata={
            "registry": spec.registry_path,
            "online_store": spec.online_description,
            "objects": dg.MetadataValue.md("\n".join(f"- `{name}`" for name in changes["applied"])),
            "deleted": len(changes["deleted"]),
        },
    )


class OnlineFeaturesConfig(dg.Config):
    cutoff: str = Field(
        default="",
        description=(
            "Load feature rows up to this ISO date (e.g. 2017-06-01, to reproduce a past state);"
            " empty: up to now. Evaluations never read the online store (they join point in"
            " time), so it can always hold the latest values"
        ),
    )
    full_refresh: bool = Field(default=False, description="Rebuild the online store from scratch first")


@dg.asset(group_name=FEATURES, kinds={"feast"})
def online_features(
    context: dg.AssetExecutionContext,
    config: OnlineFeaturesConfig,
    feature_registry: FeatureRegistry,
    feature_store: FeatureStoreResource,
) -> dg.Output[OnlineFeatures]:
    """The online store that serving reads (SQLite embedded, Redis in production), loaded
    incrementally from the offline sources up to now: each view continues from its last
    materialization."""
    if config.cutoff:
        cutoff = utc_days(pd.Series([pd.Timestamp(config.cutoff)])).iloc[0].to_pydatetime()
    else:
        cutoff = datetime.now(UTC)
    if config.full_refresh:
        context.log.info("full refresh: dropping the online store and the registry")
        feature_store.rebuild()
    views = feature_store.materialize(cutoff)
    spec = feature_store.spec()
    summary = pd.DataFrame(
        [
            {"view": v.name, "from": str(v.start or "start"), "to": str(v.end), "status": v.status}
            for v in views
        ]
    )
    return dg.Output(
        OnlineFeatures(spec.online_description, cutoff, views),
        metadata={
            "online_store": spec.online_description,
            "cutoff": str(cutoff),
            "views": dg.MetadataValue.md(summary.to_markdown(index=False)),
        },
    )


@dg.asset(group_name=FEATURES, kinds={"feast", "pandas"})
def training_dataset(
    context: dg.AssetExecutionContext,
    review_split: pd.DataFrame,
    feature_registry: FeatureRegistry,
    feature_store: FeatureStoreResource,
    review_source: ReviewSourceResource,
) -> dg.Output[pd.DataFrame]:
    """Every review of the split with the `hybrid_v1` features as of its own date: a Feast
    point-in-time join (historical retrieval), on-demand features computed by Feast."""
    context.log.info(f"historical retrieval of {FEATURE_SERVICE} for {len(review_split):,} reviews")
    features = feature_store.historical_features(review_split)
    dataset = pd.concat(
        [review_split[["review_id", "split", "is_spoiler", "review_date"]], features], axis=1
    ).reset_index(drop=True)
    preview = dataset[["split", "is_spoiler", *MODEL_FEATURES[:3], *USER_FEATURES]].head(5)
    return dg.Output(
        dataset,
        metadata={
            "corpus": review_source.corpus_label(),
            "feature_service": FEATURE_SERVICE,
            "rows": len(dataset),
            "features": len(MODEL_FEATURES),
            **{f"missing_{name}_share": share for name, share in missing_shares(features).items()},
            "preview": dg.MetadataValue.md(preview.to_markdown(index=False)),
        },
    )
