from datetime import date

import pytest

from spoiler_assets.data.formats import (
    month_key,
    normalize_movie_id,
    parse_duration_minutes,
    parse_review_date,
    parse_review_rating,
)


def test_review_date_in_kaggle_format() -> None:
    assert parse_review_date("3 February 2017") == date(2017, 2, 3)


@pytest.mark.parametrize("bad", ["2017-02-03", "3 Febr 2017", "February 2017", ""])
def test_review_date_refuses_other_formats(bad: str) -> None:
    with pytest.raises(ValueError, match="review_date"):
        parse_review_date(bad)


@pytest.mark.parametrize(("text", "minutes"), [("2h 22min", 142), ("1h", 60), ("55min", 55), (None, None)])
def test_duration_in_minutes(text: str | None, minutes: float | None) -> None:
    assert parse_duration_minutes(text) == minutes


def test_duration_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_minutes("two hours")


def test_movie_id_loses_trailing_slash() -> None:
    assert normalize_movie_id("tt0111161/") == "tt0111161"


def test_movie_id_must_look_like_imdb() -> None:
    with pytest.raises(ValueError, match="movie_id"):
        normalize_movie_id("0111161")


def test_rating_is_numeric_from_string() -> None:
    assert parse_review_rating("7") == 7.0
    assert parse_review_rating(None) is None


@pytest.mark.parametrize("bad", ["11", "seven", True])
def test_rating_refuses_out_of_range_or_non_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match="rating"):
        parse_review_rating(bad)


def test_month_key_is_the_partition_key() -> None:
    assert month_key(date(2017, 2, 3)) == "2017-02-01"
