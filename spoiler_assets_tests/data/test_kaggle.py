import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from spoiler_assets.data.kaggle import (
    DETAILS_FILE,
    REVIEWS_FILE,
    TooManyBadLinesError,
    read_movie_details,
    read_reviews,
)

MONTHS = [d.strftime("%Y-%m-%d") for d in pd.date_range("1998-01-01", "2018-12-01", freq="MS")]


def _review(**overrides: object) -> str:
    row = {
        "review_date": "3 February 2017",
        "movie_id": "tt0111161",
        "user_id": "ur1",
        "is_spoiler": False,
        "review_text": "Fine film.",
        "rating": "8",
        "review_summary": "ok",
    }
    row.update(overrides)
    return json.dumps(row)


def _write(folder: Path, reviews: list[str], details: list[str] | None = None) -> Path:
    (folder / REVIEWS_FILE).write_text("\n".join(reviews) + "\n")
    (folder / DETAILS_FILE).write_text("\n".join(details or []) + "\n")
    return folder


def test_real_sample_reads_every_row(real_sample_dir: Path) -> None:
    result = read_reviews(str(real_sample_dir), months=None, valid_months=MONTHS, max_bad_share=0.0)
    frame = pd.concat(result.by_month.values())
    assert (result.n_lines, len(frame), len(result.bad_lines)) == (283, 283, 0)
    assert frame["is_spoiler"].sum() == 75
    assert frame["rating"].between(1, 10).all()


def test_real_sample_movie_details(real_sample_dir: Path) -> None:
    movies, bad = read_movie_details(str(real_sample_dir), max_bad_share=0.0)
    row = movies.set_index("movie_id").loc["tt0111161"]
    assert (row["duration_minutes"], row["movie_rating"], row["genres"]) == (142.0, 9.3, ["Crime", "Drama"])
    assert bad == []


def test_only_requested_months_are_kept(tmp_path: Path) -> None:
    _write(tmp_path, [_review(), _review(review_date="5 March 2017", review_text="Other.")])
    result = read_reviews(str(tmp_path), months=["2017-03-01"], valid_months=MONTHS, max_bad_share=0.0)
    assert list(result.by_month) == ["2017-03-01"]
    assert len(result.by_month["2017-03-01"]) == 1
    assert result.n_other_months == 1


def test_bad_lines_are_quarantined_with_reason(tmp_path: Path) -> None:
    lines = [_review()] * 98 + ["{not json", _review(is_spoiler="yes")]
    _write(tmp_path, lines)
    result = read_reviews(str(tmp_path), months=None, valid_months=MONTHS, max_bad_share=0.05)
    assert [(b.line_no, b.reason.split(":")[0]) for b in result.bad_lines] == [
        (99, "invalid JSON"),
        (100, "is_spoiler must be true/false, got 'yes'"),
    ]
    assert sum(len(f) for f in result.by_month.values()) == 98


def test_too_many_bad_lines_fail_naming_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, [_review(), '{"review_date": 3}', _review()])
    with pytest.raises(TooManyBadLinesError, match=r"IMDB_reviews.json.*line 2"):
        read_reviews(str(tmp_path), months=None, valid_months=MONTHS, max_bad_share=0.1)


def test_review_outside_every_partition_is_quarantined(tmp_path: Path) -> None:
    _write(tmp_path, [_review(review_date="1 January 1990")] + [_review()] * 9)
    result = read_reviews(str(tmp_path), months=None, valid_months=MONTHS, max_bad_share=0.5)
    assert "outside the partitions" in result.bad_lines[0].reason


def test_details_with_trailing_slash_id_and_bad_duration(tmp_path: Path) -> None:
    good = {
        "movie_id": "tt0000001/",
        "duration": "1h 30min",
        "genre": ["Drama"],
        "rating": 7.1,
        "release_date": "2001-05-04",
        "plot_summary": "s",
        "plot_synopsis": "",
    }
    bad = dict(good, movie_id="tt0000002", duration="long")
    _write(tmp_path, [], [json.dumps(good), json.dumps(bad)])
    movies, refused = read_movie_details(str(tmp_path), max_bad_share=0.5)
    assert movies["movie_id"].tolist() == ["tt0000001"]
    assert "duration" in refused[0].reason


# The reader loses nothing: bad lines of each kind injected into the real files.
N_BAD = 7
OUT_OF_RANGE = ["0", "11", "-3", "10.5", "99", "0.5", "nan"]
UTF8_BOM = b"\xef\xbb\xbf"


def _real_lines(real_sample_dir: Path, name: str) -> list[bytes]:
    return (real_sample_dir / name).read_bytes().splitlines()


def _with_text(line: bytes, **fields: object) -> bytes:
    return json.dumps({**json.loads(line), **fields}).encode()


def _not_utf8(line: bytes) -> bytes:
    # Bytes that no UTF-8 decoder accepts, inside an otherwise well-formed line.
    return line.replace(b'": "', b'": "\xff\xfe\xc3', 1)


def _save(path: Path, lines: list[bytes], encoding: str) -> Path:
    data = (UTF8_BOM if encoding == "bom" else b"") + b"\n".join(lines) + b"\n"
    if encoding == "gzip":
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _inject(good: list[bytes], bad: dict[str, list[bytes]]) -> tuple[list[bytes], dict[str, list[int]]]:
    """`good` with the bad lines spread through it (one every few lines, kinds in turn);
    returns the lines and the 1-based line number of every injected line, by kind."""
    queue = [(kind, line) for i in range(N_BAD) for kind, lines in bad.items() for line in lines[i : i + 1]]
    step = max(1, len(good) // (len(queue) + 1))
    out: list[bytes] = []
    where: dict[str, list[int]] = {kind: [] for kind in bad}
    for i, line in enumerate(good):
        if queue and i % step == 0:
            kind, bad_line = queue.pop(0)
            out.append(bad_line)
            where[kind].append(len(out))
        out.append(line)
    for kind, bad_line in queue:
        out.append(bad_line)
        where[kind].append(len(out))
    return out, where


def _kind(reason: str) -> str:
    if reason.startswith("not UTF-8"):
        return "not_utf8"
    if reason.startswith("line of "):
        return "too_long"
    return "rating" if "rating" in reason and "outside 1..10" in reason else f"unexpected: {reason}"


@pytest.mark.parametrize("encoding", ["plain", "bom", "gzip"])
def test_injected_bad_review_lines_are_quarantined_and_no_good_line_lost(
    real_sample_dir: Path, tmp_path: Path, encoding: str
) -> None:
    good = _real_lines(real_sample_dir, REVIEWS_FILE)
    cap = 2 * max(len(line) for line in good)
    bad = {
        "not_utf8": [_not_utf8(line) for line in good[:N_BAD]],
        "too_long": [_with_text(line, review_text="long " * cap) for line in good[:N_BAD]],
        "rating": [_with_text(line, rating=r) for line, r in zip(good, OUT_OF_RANGE, strict=False)],
    }
    lines, where = _inject(good, bad)
    _save(tmp_path / REVIEWS_FILE, lines, encoding)

    result = read_reviews(
        str(tmp_path), months=None, valid_months=MONTHS, max_bad_share=0.1, max_line_bytes=cap
    )

    quarantined: dict[str, list[int]] = {kind: [] for kind in bad}
    for b in result.bad_lines:
        quarantined.setdefault(_kind(b.reason), []).append(b.line_no)
    assert quarantined == where  # N of each kind, at the line where it was put
    assert all(len(b.text) <= 2_000 for b in result.bad_lines)
    kept = pd.concat(result.by_month.values()).sort_values("source_line")
    expected = [json.loads(line) for line in good]
    assert kept["review_text"].tolist() == [row["review_text"] for row in expected]
    assert kept["user_id"].tolist() == [row["user_id"].strip() for row in expected]
    injected = {n for numbers in where.values() for n in numbers}
    assert kept["source_line"].tolist() == [n for n in range(1, len(lines) + 1) if n not in injected]
    assert result.n_lines == len(lines)


def test_injected_bad_movie_lines_are_quarantined_and_no_good_line_lost(
    real_sample_dir: Path, tmp_path: Path
) -> None:
    (real,) = _real_lines(real_sample_dir, DETAILS_FILE)
    good = [real] + [_with_text(real, movie_id=f"tt09{i:05d}", rating=1 + i) for i in range(N_BAD)]
    cap = 2 * len(real)
    ratings = [0, 11, -1.5, 10.01, float("nan"), 100, 0.99]
    bad = {
        "not_utf8": [_not_utf8(_with_text(real, movie_id=f"tt08{i:05d}")) for i in range(N_BAD)],
        "too_long": [
            _with_text(real, movie_id=f"tt07{i:05d}", plot_synopsis="x" * cap) for i in range(N_BAD)
        ],
        "rating": [_with_text(real, movie_id=f"tt06{i:05d}", rating=r) for i, r in enumerate(ratings)],
    }
    lines, where = _inject(good, bad)
    _save(tmp_path / DETAILS_FILE, lines, "plain")

    movies, refused = read_movie_details(str(tmp_path), max_bad_share=1.0, max_line_bytes=cap)

    quarantined: dict[str, list[int]] = {kind: [] for kind in bad}
    for b in refused:
        quarantined.setdefault(_kind(b.reason), []).append(b.line_no)
    assert quarantined == where
    assert movies["movie_id"].tolist() == [json.loads(line)["movie_id"] for line in good]
    assert movies["movie_rating"].tolist() == [9.3, *(1.0 + i for i in range(N_BAD))]


def test_bom_at_the_start_of_the_real_file_is_accepted(real_sample_dir: Path, tmp_path: Path) -> None:
    (tmp_path / REVIEWS_FILE).write_bytes(UTF8_BOM + (real_sample_dir / REVIEWS_FILE).read_bytes())
    result = read_reviews(str(tmp_path), months=None, valid_months=MONTHS, max_bad_share=0.0)
    assert (result.n_lines, sum(len(f) for f in result.by_month.values()), result.bad_lines) == (283, 283, [])


def test_gzip_source_is_read_like_the_plain_one(real_sample_dir: Path, tmp_path: Path) -> None:
    for name in (REVIEWS_FILE, DETAILS_FILE):
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((real_sample_dir / name).read_bytes()))
    plain = read_reviews(str(real_sample_dir), months=None, valid_months=MONTHS, max_bad_share=0.0)
    packed = read_reviews(str(tmp_path), months=None, valid_months=MONTHS, max_bad_share=0.0)
    for month, frame in plain.by_month.items():
        pd.testing.assert_frame_equal(packed.by_month[month], frame)
    movies, bad = read_movie_details(str(tmp_path), max_bad_share=0.0)
    assert (movies["movie_id"].tolist(), bad) == (["tt0111161"], [])


def test_cut_short_gzip_fails_the_file_naming_it(real_sample_dir: Path, tmp_path: Path) -> None:
    packed = gzip.compress((real_sample_dir / REVIEWS_FILE).read_bytes())
    (tmp_path / f"{REVIEWS_FILE}.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match=r"IMDB_reviews.json.gz: not a readable gzip file"):
        read_reviews(str(tmp_path), months=None, valid_months=MONTHS, max_bad_share=0.5)
