"""raw_reviews through Dagster: the real source plus a gzip landed file with bad lines."""

import gzip
import json
from pathlib import Path

import dagster as dg

from spoiler_assets.assets.ingestion import build_raw_reviews
from spoiler_assets.data.kaggle import REVIEWS_FILE
from spoiler_assets.partitions import review_months
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
