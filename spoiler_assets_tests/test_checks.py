"""Asset checks on raw reviews, run by Dagster with the asset they check."""

from pathlib import Path

import dagster as dg
import pytest

from spoiler_assets.assets.ingestion import build_raw_reviews
from spoiler_assets.checks import build_raw_review_checks
from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.resources.environment import build_resources
from spoiler_assets_tests.helpers import corpus_settings

MONTH = "2016-01-01"


def _materialize(tmp_path: Path, bad_lines: int) -> dict[str, dg.AssetCheckEvaluation]:
    corpus = generate_corpus(tmp_path / "source", CorpusSpec(400, 10, seed=1, first_month="2016-01",
                                                             last_month="2016-01"))  # fmt: skip
    with corpus.reviews_path.open("a") as reviews:
        reviews.write("{not json\n" * bad_lines)
    settings = corpus_settings(tmp_path / "data", tmp_path / "source", "2016-01", "2016-01")
    months = dg.MonthlyPartitionsDefinition(start_date=MONTH, end_date="2016-02-01")
    result = dg.materialize(
        [build_raw_reviews(months), *build_raw_review_checks(months)],
        partition_key=MONTH,
        resources=build_resources(settings),
    )
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_clean_month_passes_every_raw_review_check(tmp_path: Path) -> None:
    checks = _materialize(tmp_path, bad_lines=0)
    assert {name: e.passed for name, e in checks.items()} == {
        "raw_reviews_schema": True,
        "raw_reviews_dates": True,
        "raw_reviews_quarantine": True,
    }


def test_quarantine_past_a_tenth_of_the_limit_warns_but_keeps_the_data(tmp_path: Path) -> None:
    checks = _materialize(tmp_path, bad_lines=2)  # 2 of ~400 lines: 0.5%, the read fails at 1%
    quarantine = checks["raw_reviews_quarantine"]
    assert not quarantine.passed and quarantine.severity == dg.AssetCheckSeverity.WARN
    assert quarantine.metadata["quarantined_lines"].value == 2
    assert quarantine.metadata["share"].value == pytest.approx(
        2 / quarantine.metadata["total"].value, abs=1e-4
    )
    assert checks["raw_reviews_schema"].passed
