import pandas as pd

from spoiler_assets.data.cleaning import clean_reviews, normalize_text


def _raw(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"movie_id": "tt0000001", "user_id": "ur1", "rating": 7.0, "review_summary": "s"}
    frame = pd.DataFrame([{**base, **r, "source_line": i} for i, r in enumerate(rows, 1)])
    frame["review_date"] = pd.to_datetime(frame["review_date"])
    return frame


MOVIES = pd.DataFrame(
    {
        "movie_id": ["tt0000001"],
        "plot_summary": ["p"],
        "duration_minutes": [100.0],
        "genres": [["Drama"]],
        "movie_rating": [7.5],
        "release_date": [pd.Timestamp("2010-01-01")],
        "plot_synopsis": [""],
    }
)


def test_normalize_repairs_glued_sentences_and_spaces() -> None:
    assert normalize_text(pd.Series(["the end.Well,  then \n ok"])).tolist() == ["the end. Well, then ok"]


def test_duplicates_keep_earliest_labelled_by_its_own_day_with_every_copy_recorded() -> None:
    raw = _raw(
        [
            {"review_text": "Same words", "is_spoiler": True, "review_date": "2015-03-01"},
            {"review_text": "same  words", "is_spoiler": False, "review_date": "2015-01-01"},
            {"review_text": "Same words", "is_spoiler": True, "review_date": "2015-02-01"},
        ]
    )
    cleaned, report = clean_reviews(raw, MOVIES)
    assert len(cleaned) == 1
    kept = cleaned.iloc[0]
    assert kept["review_date"] == pd.Timestamp("2015-01-01") and kept["duplicate_count"] == 3
    # later copies were unknown on Jan 1: they vote only in the split (split_by_time)
    assert bool(kept["is_spoiler"]) is False
    assert [(str(d.date()), label) for d, label in kept["copy_labels"]] == [
        ("2015-01-01", False), ("2015-02-01", True), ("2015-03-01", True),
    ]  # fmt: skip
    assert (report.n_duplicate_rows_removed, report.n_conflicting_duplicate_groups) == (2, 1)


def test_duplicate_tie_on_one_day_counts_as_spoiler() -> None:
    raw = _raw(
        [
            {"review_text": "Tie", "is_spoiler": False, "review_date": "2015-01-01"},
            {"review_text": "Tie", "is_spoiler": True, "review_date": "2015-01-01"},
            {"review_text": "Once", "is_spoiler": False, "review_date": "2015-01-02"},
        ]
    )
    cleaned, _ = clean_reviews(raw, MOVIES)
    by_text = cleaned.set_index("review_text")
    assert bool(by_text.loc["Tie", "is_spoiler"]) is True
    assert by_text.loc["Once", "copy_labels"] is None


def test_reviews_without_movie_details_are_kept() -> None:
    raw = _raw(
        [
            {"review_text": "Known", "is_spoiler": False, "review_date": "2015-01-01"},
            {
                "review_text": "Unknown",
                "is_spoiler": False,
                "review_date": "2015-01-02",
                "movie_id": "tt0000009",
            },
        ]
    )
    cleaned, report = clean_reviews(raw, MOVIES)
    unknown = cleaned.set_index("movie_id").loc["tt0000009"]
    assert len(cleaned) == 2 and report.n_without_movie_details == 1
    assert not unknown["has_movie_details"] and pd.isna(unknown["duration_minutes"])
