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

    Rule: the earliest review is kept; its label is the majority label of all copies, and
    a tie counts as a spoiler, because one reader flagging a spoiler is enough to hide it.
    Returns the deduplicated frame and the number of groups whose labels disagreed.
    """
    ordered = reviews.sort_values(["review_date", "source_line"], kind="stable")
    groups = ordered.groupby("text_hash", sort=False)["is_spoiler"]
    spoiler_share = groups.transform("mean")
    copies = groups.transform("size")
    conflicts = int((groups.nunique() > 1).sum())
    kept = ordered.assign(is_spoiler=spoiler_share >= 0.5, duplicate_count=copies)
    kept = kept.drop_duplicates("text_hash", keep="first")
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
