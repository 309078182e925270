"""The review source labels the corpus with one marker lookup per resource set up."""

from pathlib import Path

import dagster as dg
import pytest

from spoiler_assets.data.formats import SYNTHETIC_MARKER
from spoiler_assets.resources import locations
from spoiler_assets.resources.locations import REAL_LABEL, SYNTHETIC_LABEL, ReviewSourceResource


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each marker lookup (an S3 `exists()` in production), by source URI."""
    seen: list[str] = []
    real = locations.source_is_synthetic

    def counting(source_uri: str, storage_options: object = None) -> bool:
        seen.append(source_uri)
        return real(source_uri, storage_options)  # type: ignore[arg-type]

    monkeypatch.setattr(locations, "source_is_synthetic", counting)
    return seen


def test_the_label_is_read_once_per_resource(tmp_path: Path, lookups: list[str]) -> None:
    source = ReviewSourceResource(base_uri=str(tmp_path))
    assert [source.corpus_label() for _ in range(3)] == [REAL_LABEL] * 3
    assert lookups == [str(tmp_path)]


def test_each_run_sets_up_its_own_label(tmp_path: Path, lookups: list[str]) -> None:
    @dg.asset
    def first(review_source: ReviewSourceResource) -> str:
        return review_source.corpus_label()

    @dg.asset
    def second(first: str, review_source: ReviewSourceResource) -> list[str]:
        return [first, review_source.corpus_label(), review_source.corpus_label()]

    source = ReviewSourceResource(base_uri=str(tmp_path))
    assert dg.materialize([first, second], resources={"review_source": source}).success
    steps = len(lookups)
    assert steps == 1, lookups  # the in-process executor sets resources up once per run

    (tmp_path / SYNTHETIC_MARKER).write_text("")  # the corpus changed between runs
    result = dg.materialize([first, second], resources={"review_source": source})
    assert result.output_for_node("second") == [SYNTHETIC_LABEL] * 3
    assert len(lookups) == 2 * steps
