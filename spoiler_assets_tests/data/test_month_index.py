"""The month index: a file is skipped only when it is known to hold none of the months."""

import pandas as pd

from spoiler_assets.data.kaggle import ReviewReadResult
from spoiler_assets.data.month_index import FileMonths, months_seen, needs_read

FEB, MAR, APR = "2017-02-01", "2017-03-01", "2017-04-01"


def _result(rows: dict[str, int], n_other: int = 0) -> ReviewReadResult:
    return ReviewReadResult({m: pd.DataFrame({"x": range(n)}) for m, n in rows.items()}, [], 0, n_other)


def test_a_full_read_is_complete_and_skips_the_months_it_lacks() -> None:
    entry = months_seen("v1", _result({FEB: 3, MAR: 0}), None)
    assert entry == FileMonths("v1", {FEB: 3}, complete=True)
    assert not needs_read(entry, "v1", [MAR, APR]) and needs_read(entry, "v1", [MAR, FEB])


def test_a_read_of_some_months_knows_only_those() -> None:
    entry = months_seen("v1", _result({FEB: 0}, n_other=5), [FEB])
    assert not needs_read(entry, "v1", [FEB])
    assert needs_read(entry, "v1", [MAR])  # unknown: rows of other months exist
    assert not months_seen("v1", _result({FEB: 2}, n_other=0), [FEB]).must_read([MAR])


def test_another_version_or_no_entry_is_read() -> None:
    entry = FileMonths("v1", {FEB: 3}, complete=True)
    assert needs_read(entry, "v2", [MAR]) and needs_read(None, "v1", [MAR])


def test_reads_of_one_version_add_up_and_a_new_version_replaces() -> None:
    first = FileMonths("v1", {FEB: 0})
    assert first.merged(FileMonths("v1", {MAR: 2})) == FileMonths("v1", {FEB: 0, MAR: 2})
    assert first.merged(FileMonths("v2", {APR: 1}, True)) == FileMonths("v2", {APR: 1}, True)


def test_entry_round_trips_and_a_torn_one_is_no_entry() -> None:
    entry = FileMonths("size=3 modified=1.0 etag=", {FEB: 3}, complete=True)
    assert FileMonths.from_json(entry.to_json()) == entry
    assert FileMonths.from_json(entry.to_json()[:-5]) is None
    assert FileMonths.from_json('{"version": "v1"}') is None
