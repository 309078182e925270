"""Parsers for the field formats of the Kaggle IMDB Spoiler Dataset.

Each parser raises `ValueError` with a short reason; the readers turn that reason into a
quarantine record instead of dropping the line.
"""

from __future__ import annotations

import re
from datetime import date

# The dataset's file names, and the marker the synthetic generator writes beside them:
# its presence labels a corpus synthetic everywhere it is shown.
REVIEWS_FILE = "IMDB_reviews.json"
DETAILS_FILE = "IMDB_movie_details.json"
SYNTHETIC_MARKER = "SYNTHETIC_CORPUS.json"

# Kaggle dates read "3 January 2017"; English names, whatever the locale.
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, start=1)}
_MOVIE_ID = re.compile(r"^tt\d{5,10}$")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*min)?\s*$")


def parse_review_date(text: str) -> date:
    """Parse a review date such as "3 February 2017"."""
    parts = text.split()
    if len(parts) != 3 or parts[1] not in _MONTHS:
        raise ValueError(f"review_date {text!r} is not like '3 February 2017'")
    return date(int(parts[2]), _MONTHS[parts[1]], int(parts[0]))


def normalize_movie_id(raw: str) -> str:
    """Canonical movie id: the details file writes some ids with a trailing "/"."""
    movie_id = raw.strip().rstrip("/")
    if not _MOVIE_ID.match(movie_id):
        raise ValueError(f"movie_id {raw!r} is not like 'tt0111161'")
    return movie_id


def parse_duration_minutes(text: str | None) -> float | None:
    """Minutes in a duration such as "2h 22min", "1h" or "55min"; None when absent."""
    if text is None or not text.strip():
        return None
    match = _DURATION.match(text)
    if match is None or not any(match.groups()):
        raise ValueError(f"duration {text!r} is not like '2h 22min'")
    hours, minutes = (int(g) if g else 0 for g in match.groups())
    return float(hours * 60 + minutes)


def parse_review_rating(raw: object) -> float | None:
    """A review's 1-10 rating, written as a string in the source; None when absent."""
    return _rating(raw, "rating")


def parse_movie_rating(raw: object) -> float | None:
    """A movie's IMDB rating (a 1-10 average, a number in the source); None when absent."""
    return _rating(raw, "movie rating")


def _rating(raw: object, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"{name} {raw!r} is not a number")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} {raw!r} is not a number") from None
    # NaN fails the comparison too, so it is refused with the out-of-range values.
    if not 1 <= value <= 10:
        raise ValueError(f"{name} {raw!r} is outside 1..10")
    return value


def parse_release_date(text: str | None) -> date | None:
    """A release date such as "1994-10-14"; None when absent."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"release_date {text!r} is not like '1994-10-14'") from None


def month_key(day: date) -> str:
    """The monthly partition key ("2017-02-01") a date belongs to."""
    return f"{day.year:04d}-{day.month:02d}-01"
