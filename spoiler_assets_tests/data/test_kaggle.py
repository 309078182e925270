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
