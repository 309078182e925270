"""The synthetic corpus: Kaggle schema, determinism, learnable labels and the real quirks."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from spoiler_assets.data import synthetic
from spoiler_assets.data.synthetic import SYNTHETIC_MARKER, CorpusSpec, SyntheticCorpus, generate_corpus, main

SMALL = CorpusSpec(n_reviews=3000, n_movies=40, seed=3)
REVIEW_KEYS = ["review_date", "movie_id", "user_id", "is_spoiler", "review_text", "rating", "review_summary"]
DETAILS_KEYS = ["movie_id", "plot_summary", "duration", "genre", "rating", "release_date", "plot_synopsis"]
# Words of twist events, each reduced to a topic so "dies" and "death" count as one.
EVENT_WORD = re.compile(
    r"\b(die|dies|died|dead|death|kill\w*|murder\w*|betray\w*|dream|father|ghost"
    r"|same person|sacrific\w*|escape\w*|arrest\w*|marr\w*|together)\b"
)


def rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def topics(sentence: str) -> set[str]:
    out = set()
    for match in EVENT_WORD.finditer(sentence):
        word = match.group(1)
        if word in ("die", "dies", "died", "dead", "death"):
            out.add("death")
        else:
            out.add("kill" if word.startswith(("kill", "murder")) else word[:5])
    return out


def twist_material(details: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    """(first name, topic) pairs of each movie's twist sentences in its synopsis."""
    material = {}
    for movie in details:
        pairs = set()
        for sentence in re.split(r"(?<=\.) ", movie["plot_synopsis"]):
            if "(" not in sentence:  # not a character introduction with the actor's name
                for first in re.findall(r"\b([A-Z][a-z]+) [A-Z][a-z]+", sentence):
                    pairs |= {(first, topic) for topic in topics(sentence)}
        if pairs:
            material[movie["movie_id"].rstrip("/")] = pairs
    return material


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCorpus:
    return generate_corpus(tmp_path_factory.mktemp("corpus"), SMALL)


def test_same_spec_gives_identical_bytes(tmp_path: Path) -> None:
    spec = replace(SMALL, n_reviews=400)
    first, second = generate_corpus(tmp_path / "a", spec), generate_corpus(tmp_path / "b", spec)
    for name in (first.reviews_path.name, first.details_path.name, SYNTHETIC_MARKER):
        assert (first.directory / name).read_bytes() == (second.directory / name).read_bytes()


def test_every_review_line_has_the_kaggle_schema(corpus: SyntheticCorpus) -> None:
    for row in rows(corpus.reviews_path):
        assert list(row) == REVIEW_KEYS
        assert datetime.strptime(row["review_date"], "%d %B %Y")
        assert not row["review_date"].startswith("0")
        assert re.fullmatch(r"tt\d{7}", row["movie_id"]) and re.fullmatch(r"ur\d+", row["user_id"])
        assert isinstance(row["is_spoiler"], bool)
        assert isinstance(row["rating"], str) and 1 <= int(row["rating"]) <= 10
        assert str(int(row["rating"])) == row["rating"]
        assert row["review_text"] and row["review_summary"] and "\n" not in row["review_summary"]


def test_every_details_line_has_the_kaggle_schema(corpus: SyntheticCorpus) -> None:
    for row in rows(corpus.details_path):
        assert list(row) == DETAILS_KEYS
        assert re.fullmatch(r"tt\d{7}/?", row["movie_id"])
        assert re.fullmatch(r"[1-9]h( ([1-9]|[1-5]\d)min)?|([1-9]|[1-5]\d)min", row["duration"])
        assert row["genre"] and all(isinstance(g, str) for g in row["genre"])
        assert isinstance(row["rating"], float) and round(row["rating"], 1) == row["rating"]
        assert date.fromisoformat(row["release_date"])
        assert row["plot_summary"] and isinstance(row["plot_synopsis"], str)


def test_movies_are_released_before_their_reviews(corpus: SyntheticCorpus) -> None:
    released = {
        m["movie_id"].rstrip("/"): date.fromisoformat(m["release_date"]) for m in rows(corpus.details_path)
    }
    for row in rows(corpus.reviews_path):
        if row["movie_id"] in released:
            assert datetime.strptime(row["review_date"], "%d %B %Y").date() > released[row["movie_id"]]


def test_spoiler_share_matches_spec_after_label_noise(corpus: SyntheticCorpus) -> None:
    expected = SMALL.spoiler_share * (1 - SMALL.label_noise) + (1 - SMALL.spoiler_share) * SMALL.label_noise
    assert corpus.n_spoilers / corpus.n_reviews == pytest.approx(expected, abs=0.01)
    assert sum(row["is_spoiler"] for row in rows(corpus.reviews_path)) == corpus.n_spoilers


def test_spoilers_reveal_their_movies_twists_more_than_other_reviews(tmp_path: Path) -> None:
    clean = generate_corpus(tmp_path, replace(SMALL, label_noise=0.0))
    material = twist_material(list(rows(clean.details_path)))
    hits: dict[bool, list[bool]] = defaultdict(list)
    for row in rows(clean.reviews_path):
        pairs = material.get(row["movie_id"])
        if pairs:
            sentences = re.split(r"(?<=[.!?;])", row["review_text"])
            hits[row["is_spoiler"]].append(
                any(
                    (name, topic) in pairs
                    for s in sentences
                    for topic in topics(s)
                    for name in re.findall(r"[A-Z][a-z]+", s)
                )
            )
    spoiler_rate = sum(hits[True]) / len(hits[True])
    other_rate = sum(hits[False]) / len(hits[False])
    assert spoiler_rate > 1.3 * other_rate  # 1.4 to 1.8 across seeds; about 1.0 without reveals


def test_review_lengths_vary_widely_around_the_real_average(corpus: SyntheticCorpus) -> None:
    lengths = [len(row["review_text"]) for row in rows(corpus.reviews_path)]
    assert 1000 <= sum(lengths) / len(lengths) <= 1300
    assert min(lengths) < 300 and max(lengths) > 3000


def test_users_have_heavy_tailed_review_counts(corpus: SyntheticCorpus) -> None:
    per_user = Counter(row["user_id"] for row in rows(corpus.reviews_path))
    assert len(per_user) == pytest.approx(SMALL.n_reviews / 2.2, rel=0.05)
    assert sum(n == 1 for n in per_user.values()) / len(per_user) > 0.4
    assert max(per_user.values()) >= 20


def test_some_details_ids_end_with_a_slash(corpus: SyntheticCorpus) -> None:
    assert any(row["movie_id"].endswith("/") for row in rows(corpus.details_path))


def test_some_reviewed_movies_have_no_details(corpus: SyntheticCorpus) -> None:
    described = {row["movie_id"].rstrip("/") for row in rows(corpus.details_path)}
    reviewed = {row["movie_id"] for row in rows(corpus.reviews_path)}
    assert len(reviewed) == corpus.n_movies
    assert reviewed - described


def test_repeated_texts_include_conflicting_labels(corpus: SyntheticCorpus) -> None:
    labels: dict[str, list[bool]] = defaultdict(list)
    for row in rows(corpus.reviews_path):
        labels[row["review_text"]].append(row["is_spoiler"])
    repeated = [seen for seen in labels.values() if len(seen) > 1]
    assert 1 <= len(repeated) <= 0.003 * SMALL.n_reviews
    assert any(len(set(seen)) == 2 for seen in repeated)


def test_marker_says_synthetic(corpus: SyntheticCorpus) -> None:
    marker = json.loads((corpus.directory / SYNTHETIC_MARKER).read_text())
    assert marker == {
        "synthetic": True,
        "seed": SMALL.seed,
        "n_reviews": SMALL.n_reviews,
        "n_movies": corpus.n_movies,
        "generator": "spoiler_assets.data.synthetic",
        "note": "Synthetic corpus, not IMDB data",
    }


def test_vocabulary_shift_brings_words_the_unshifted_corpus_never_uses(tmp_path: Path) -> None:
    spec = replace(SMALL, n_reviews=400)
    words = {}
    for shift in (0.0, 1.0):
        path = generate_corpus(tmp_path / str(shift), replace(spec, vocabulary_shift=shift)).reviews_path
        words[shift] = Counter(w for row in rows(path) for w in re.findall(r"[a-z]+", row["review_text"]))
    novel = sum(n for w, n in words[1.0].items() if w not in words[0.0])
    assert novel / sum(words[1.0].values()) > 0.03


def test_vocabulary_shift_keeps_reviews_and_labels(tmp_path: Path) -> None:
    spec = replace(SMALL, n_reviews=400)
    plain = generate_corpus(tmp_path / "plain", spec).reviews_path
    shifted = generate_corpus(tmp_path / "shifted", replace(spec, vocabulary_shift=0.5)).reviews_path
    keys = ("review_date", "movie_id", "user_id", "is_spoiler", "rating")
    assert [[r[k] for k in keys] for r in rows(plain)] == [[r[k] for k in keys] for r in rows(shifted)]


def test_failed_regeneration_does_not_look_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_corpus(tmp_path, replace(SMALL, n_reviews=200))

    def broken(*_: object) -> Iterator[str]:
        yield "{}\n"
        raise OSError("disk full")

    monkeypatch.setattr(synthetic, "_details_lines", broken)
    with pytest.raises(OSError, match="disk full"):
        generate_corpus(tmp_path, replace(SMALL, n_reviews=300))
    assert not (tmp_path / SYNTHETIC_MARKER).exists()
    assert not list(tmp_path.glob(".*partial"))


def test_invalid_spec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spoiler_share"):
        generate_corpus(tmp_path, replace(SMALL, spoiler_share=1.5))


def test_cli_writes_a_corpus_and_says_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--reviews", "200", "--movies", "12", "--seed", "5"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert sum(1 for _ in rows(tmp_path / "IMDB_reviews.json")) == 200
