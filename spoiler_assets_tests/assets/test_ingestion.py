"""raw_reviews through Dagster: the real source plus a gzip landed file with bad lines."""

import gzip
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from spoiler_assets.assets.ingestion import build_raw_reviews
from spoiler_assets.data.kaggle import REVIEWS_FILE
from spoiler_assets.partitions import all_months_tags, review_months
from spoiler_assets.resources.environment import build_resources
from spoiler_assets_tests.helpers import corpus_settings

MONTH = "2017-02-01"


def test_landed_gzip_month_keeps_every_good_line_and_quarantines_the_rest(
    real_sample_dir: Path, tmp_path: Path
) -> None:
    real = (real_sample_dir / REVIEWS_FILE).read_bytes().splitlines()
    cap = 2 * max(len(line) for line in real)  # every real line fits
    landed = [
        json.dumps(
            {**json.loads(line), "review_date": "5 February 2017", "review_text": f"LANDED {i}"}
        ).encode()
        for i, line in enumerate(real[:20])
    ]
    bad = [
        landed[0].replace(b"LANDED", b"LAND\xffED"),  # not UTF-8
        json.dumps({**json.loads(landed[1]), "review_text": "x" * cap}).encode(),  # over the cap
        json.dumps({**json.loads(landed[2]), "rating": "11"}).encode(),  # rating out of range
    ]
    (tmp_path / "landing").mkdir()
    body = b"\n".join(landed[:5] + bad[:1] + landed[5:10] + bad[1:] + landed[10:])
    (tmp_path / "landing" / "batch.json.gz").write_bytes(gzip.compress(body))
    settings = corpus_settings(
        tmp_path / "data", real_sample_dir, "1998-01", "2018-12",
        SPOILER_LANDING_URI=str(tmp_path / "landing"),
        SPOILER_MAX_LINE_BYTES=str(cap), SPOILER_MAX_BAD_LINE_SHARE="0.2",
    )  # fmt: skip

    result = dg.materialize(
        [build_raw_reviews(review_months(settings))], partition_key=MONTH, resources=build_resources(settings)
    )

    frame = result.output_for_node("raw_reviews")
    from_source = sum(json.loads(line)["review_date"].endswith("February 2017") for line in real)
    assert sorted(frame["review_text"].str.startswith("LANDED").value_counts().items()) == [
        (False, from_source),
        (True, 20),
    ]
    metadata = result.asset_materializations_for_node("raw_reviews")[0].metadata
    assert metadata["quarantined_lines"].value == 3
    records = [json.loads(line) for line in Path(str(metadata["quarantine"].value)).read_text().splitlines()]
    assert [(r["file"], r["line_no"], r["reason"].split(" (")[0]) for r in records] == [
        ("batch.json.gz", 6, "not UTF-8"),
        ("batch.json.gz", 12, f"line of {len(bad[1]):,} bytes is over the {cap:,}-byte limit"),
        ("batch.json.gz", 13, "rating '11' is outside 1..10"),
    ]


def _review_lines(day: str, tag: str, n: int) -> bytes:
    """`n` Kaggle-format review lines dated `day` ("5 March 2019"), texts "<tag> i"."""
    return b"".join(
        json.dumps(
            {
                "review_date": day,
                "movie_id": "tt0111161",
                "user_id": f"ur{i}",
                "is_spoiler": i % 2 == 0,
                "review_text": f"{tag} {i}",
                "rating": "7",
                "review_summary": "",
            }  # fmt: skip
        ).encode()
        + b"\n"
        for i in range(n)
    )


def test_a_landed_month_reads_only_the_files_that_hold_it(tmp_path: Path) -> None:
    source, landing = tmp_path / "source", tmp_path / "landing"
    source.mkdir()
    landing.mkdir()
    (source / REVIEWS_FILE).write_bytes(_review_lines("3 February 2017", "SOURCE", 6))
    (landing / "feb.json").write_bytes(_review_lines("9 February 2017", "FEB", 3))
    (landing / "mar.json").write_bytes(_review_lines("9 March 2017", "MAR", 4))
    settings = corpus_settings(
        tmp_path / "data", source, "2017-01", "2019-12", SPOILER_LANDING_URI=str(landing)
    )
    months = review_months(settings)
    asset, resources = build_raw_reviews(months), build_resources(settings)

    def run(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
        result = dg.materialize([asset], resources=resources, **kwargs)
        meta = result.asset_materializations_for_node("raw_reviews")[0].metadata
        return result.output_for_node("raw_reviews"), {k: v.value for k, v in meta.items()}

    # The initial load: every month in one run, every file read once and indexed.
    by_month, meta = run(tags=all_months_tags(months))
    assert meta["files_read"] == ["source/IMDB_reviews.json", "landed/feb.json", "landed/mar.json"]
    assert len(by_month["2017-02-01"]) == 9 and len(by_month["2017-03-01"]) == 4

    # mar.json is corrupted in place, same size and modification time (its version):
    # a run that opened it would refuse it whole.
    stat = (landing / "mar.json").stat()
    (landing / "mar.json").write_bytes(b"x" * stat.st_size)
    os.utime(landing / "mar.json", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (landing / "may-2019.json").write_bytes(_review_lines("5 May 2019", "NEW", 5))
    (landing / "broken.json").write_bytes(b"not json\n" * 3)  # new: read, refused whole

    frame, meta = run(partition_key="2019-05-01")
    assert meta["files_read"] == ["landed/broken.json", "landed/may-2019.json"]
    assert meta["files_skipped_by_month_index"] == 3 and meta["landed_files_refused"] == 1
    assert meta["quarantined_lines"] == 1  # broken.json, whole; mar.json was not opened
    assert sorted(frame["review_text"]) == [f"NEW {i}" for i in range(5)]

    # A month the source holds reads the source and that month's landed file, nothing
    # else: broken.json was refused once and is not read again.
    frame, meta = run(partition_key="2017-02-01")
    assert meta["files_read"] == ["source/IMDB_reviews.json", "landed/feb.json"]
    assert sorted(frame["review_text"].str.split().str[0].value_counts().items()) == [
        ("FEB", 3),
        ("SOURCE", 6),
    ]

    # A month that no file holds opens nothing and has the raw schema, with no rows.
    frame, meta = run(partition_key="2018-01-01")
    assert meta["files_read"] == [] and len(frame) == 0
    assert list(frame.columns) == list(by_month["2017-02-01"].columns)
