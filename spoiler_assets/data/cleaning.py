"""Cleaning: normalised text, typed columns, movie metadata joined, duplicates resolved."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

# The Kaggle export lost the newlines between paragraphs ("the end.Well, then"): put a
# space back between a sentence end and a capitalised word. The pattern starts at the
# punctuation mark, so the scan only backtracks there (several times faster).
_GLUED_SENTENCE = re.compile(r"[.!?](?<=[a-z0-9][.!?])(?=[A-Z][a-z])")


@dataclass(frozen=True)
class CleaningReport:
    n_input: int
    n_output: int
    n_duplicate_rows_removed: int
    n_conflicting_duplicate_groups: int
    n_without_movie_details: int


def normalize_text(texts: pd.Series) -> pd.Series:
    """Unicode NFC, paragraph glue repaired, whitespace collapsed, ends stripped."""
    return pd.Series([_normalize(t) for t in texts], index=texts.index, dtype=object)


def _normalize(text: str) -> str:
    unglued = _GLUED_SENTENCE.sub(lambda m: m.group(0) + " ", unicodedata.normalize("NFC", text))
    return " ".join(unglued.split())


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode("utf-8"), digest_size=8).hexdigest()


def resolve_duplicates(reviews: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one row per exact (normalised, case-folded) text.

    Rule: the earliest review is kept. Its label here is the majority label of the copies
    written on its own day (a tie counts as a spoiler, because one reader flagging a
    spoiler is enough to hide it): later copies were not known yet on that day, and the
    user history features are built from these labels. Every copy's (date, label) stays in
    `copy_labels` (None for a unique text), so that the split can let the copies inside
    the kept row's own split vote, and no copy from a later split (`split_by_time`).
    Returns the deduplicated frame and the number of groups whose labels disagreed.
    """
    ordered = reviews.sort_values(["review_date", "source_line"], kind="stable")
    groups = ordered.groupby("text_hash", sort=False)
    copies = groups["is_spoiler"].transform("size")
    conflicts = int((groups["is_spoiler"].nunique() > 1).sum())
    first_day = groups["review_date"].transform("min").dt.normalize()
    same_day = ordered["review_date"].dt.normalize() == first_day
    day_share = ordered[same_day].groupby("text_hash", sort=False)["is_spoiler"].mean()
    repeated = ordered[copies > 1]
    copy_labels: dict[str, list[tuple[pd.Timestamp, bool]]] = {}
    for text_hash, date, label in zip(
        repeated["text_hash"], repeated["review_date"], repeated["is_spoiler"], strict=True
    ):
        copy_labels.setdefault(text_hash, []).append((date, bool(label)))
    kept = ordered.assign(duplicate_count=copies).drop_duplicates("text_hash", keep="first")
    kept["is_spoiler"] = kept["text_hash"].map(day_share) >= 0.5
    kept["copy_labels"] = pd.Series(
        [copy_labels.get(h) for h in kept["text_hash"]], index=kept.index, dtype=object
    )
    return kept, conflicts


def clean_reviews(raw: pd.DataFrame, movies: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean raw review rows (all months) and join the movie metadata.

    Reviews whose movie has no details row are kept with missing metadata.
    """
    frame = raw.copy()
    frame["review_text"] = normalize_text(frame["review_text"])
    frame["review_summary"] = normalize_text(frame["review_summary"].fillna(""))
    frame = frame[frame["review_text"] != ""]
    frame["text_hash"] = frame["review_text"].str.casefold().map(_digest)
    deduped, conflicts = resolve_duplicates(frame)
    deduped["review_id"] = (deduped["user_id"] + "|" + deduped["movie_id"] + "|" + deduped["text_hash"]).map(
        _digest
    )
    joined = deduped.merge(movies.drop(columns=["plot_summary"]), on="movie_id", how="left")
    joined["has_movie_details"] = joined["movie_id"].isin(set(movies["movie_id"]))
    joined["review_length_words"] = joined["review_text"].str.count(" ") + 1
    joined = joined.sort_values(["review_date", "source_line"], kind="stable").reset_index(drop=True)
    report = CleaningReport(
        n_input=len(raw),
        n_output=len(joined),
        n_duplicate_rows_removed=len(frame) - len(deduped),
        n_conflicting_duplicate_groups=conflicts,
        n_without_movie_details=int((~joined["has_movie_details"]).sum()),
    )
    return joined, report
