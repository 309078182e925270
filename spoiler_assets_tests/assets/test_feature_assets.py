"""The feature and embedding assets, called directly on temporary storage."""

from pathlib import Path

import dagster as dg
import pandas as pd

from spoiler_assets.assets.features import build_review_feature_source
from spoiler_assets.assets.hybrid import EmbeddingConfig, build_review_embeddings
from spoiler_assets.models import embeddings
from spoiler_assets.resources.feature_store import EmbeddingCacheResource, FeatureStoreResource
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.settings import DEFAULT_FEATURE_REPO

MONTHS = dg.MonthlyPartitionsDefinition(start_date="2016-01-01", end_date="2016-04-01")


def cleaned(months: list[str]) -> pd.DataFrame:
    rows = [
        (f"r{i}-{m}", f"A review of month {m}, number {i}.", pd.Timestamp(f"{m}-1{i}"))
        for m in months
        for i in range(3)
    ]
    frame = pd.DataFrame(rows, columns=["review_id", "review_text", "review_date"])
    return frame.astype({"review_date": "datetime64[ns]"})


def store(tmp_path: Path) -> FeatureStoreResource:
    return FeatureStoreResource(
        root_uri=str(tmp_path / "offline"),
        local_dir=str(tmp_path / "local"),
        repo_dir=str(DEFAULT_FEATURE_REPO),
    )


def test_a_new_month_writes_only_its_own_review_source(tmp_path: Path) -> None:
    asset = build_review_feature_source(MONTHS)
    resources = {
        "feature_store": store(tmp_path),
        "review_source": ReviewSourceResource(base_uri=str(tmp_path)),
    }
    folder = tmp_path / "offline" / "sources" / "review_features"

    asset(
        context=dg.build_asset_context(partition_key="2016-01-01"),
        cleaned_reviews=cleaned(["2016-01"]),
        **resources,
    )
    january = (folder / "2016-01.parquet").stat().st_mtime_ns
    output = asset(
        context=dg.build_asset_context(partition_key="2016-02-01"),
        cleaned_reviews=cleaned(["2016-01", "2016-02"]),
        **resources,
    )

    assert sorted(p.name for p in folder.iterdir()) == ["2016-01.parquet", "2016-02.parquet"]
    assert (folder / "2016-01.parquet").stat().st_mtime_ns == january
    assert output.value.rows == 3 and len(pd.read_parquet(folder / "2016-02.parquet")) == 3
    empty = asset(
        context=dg.build_asset_context(partition_key="2016-03-01"), cleaned_reviews=cleaned([]), **resources
    )
    assert empty.value.rows == 0 and not (folder / "2016-03.parquet").exists()


def test_embeddings_are_not_recomputed_for_unchanged_texts(tmp_path: Path) -> None:
    asset = build_review_embeddings(MONTHS)
    resources = {
        "embedding_cache": EmbeddingCacheResource(base_uri=str(tmp_path / "cache")),
        "review_source": ReviewSourceResource(base_uri=str(tmp_path)),
    }
    config = EmbeddingConfig(max_seq_length=32)
    context = dg.build_asset_context(partition_key="2016-02-01")

    first = asset(
        context=context, config=config, cleaned_reviews=cleaned(["2016-01", "2016-02"]), **resources
    )
    embeddings._MEMO.clear()  # this process forgets: only the persistent cache remains
    second = asset(context=context, config=config, cleaned_reviews=cleaned(["2016-02"]), **resources)

    assert first.metadata["encoded_now"].value == 3 and second.metadata["encoded_now"].value == 0
    assert list(second.value.review_ids) == ["r0-2016-02", "r1-2016-02", "r2-2016-02"]
    assert second.value.vectors.shape == (3, 384) and (first.value.vectors == second.value.vectors).all()
