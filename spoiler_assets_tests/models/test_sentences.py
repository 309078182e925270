"""Sentence spans, the MIL sentence model, n-gram explanations and the Goodreads figures.

Models train on the tiny SYNTHETIC corpus (seconds); the Goodreads file is real and read
from ../shared/data when present."""

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spoiler_assets.data.cleaning import normalize_text
from spoiler_assets.data.formats import REVIEWS_FILE
from spoiler_assets.models.baseline import BaselineParams, TfidfLogisticModel, train_baseline
from spoiler_assets.models.explain import explainable_pipeline, top_spoiler_ngrams
from spoiler_assets.models.sentence_evaluation import (
    SentenceSample,
    detokenize,
    evaluate_sentence_scorers,
    load_goodreads_sentences,
    sample_sentences,
)
from spoiler_assets.models.sentences import (
    SentenceModel,
    SentenceParams,
    sentence_spans,
    split_sentences,
    train_sentence_model,
)

GOODREADS = Path(__file__).resolve().parents[3] / "shared" / "data" / "goodreads_sentences"


def _assert_tiles(text: str) -> list[str]:
    spans = sentence_spans(text)
    if not text:
        assert spans == []
        return []
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end == start, f"gap or overlap at {end}/{start} in {text!r}"
    assert all(a < b for a, b in spans)
    pieces = [text[a:b] for a, b in spans]
    assert "".join(pieces) == text
    return pieces


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Great film. He dies!  Then what?", ["Great film. ", "He dies!  ", "Then what?"]),
        ("  Leading blanks. x", ["  Leading blanks. ", "x"]),
        ("Wait... what? Dr. Lecter eats J. K. Smith.", ["Wait... what? ", "Dr. Lecter eats J. K. Smith."]),
        ('She said "Run." Then he ran.', ['She said "Run." ', "Then he ran."]),
        ("The end is sad…  Luke 🤯 cries. 😀 Yes", ["The end is sad…  ", "Luke 🤯 cries. ", "😀 Yes"]),
        ("one line\r\n\r\nsecond para", ["one line\r\n\r\n", "second para"]),
        ("It was great.The twist was not.I liked it", ["It was great.", "The twist was not.", "I liked it"]),
        ("no punctuation at all", ["no punctuation at all"]),
        ("   ", ["   "]),
    ],
)
def test_sentence_spans_split_where_a_reader_would_and_tile_the_text(text: str, expected: list[str]) -> None:
    assert _assert_tiles(text) == expected


def test_sentence_spans_tile_any_text() -> None:
    rng = random.Random(5)
    alphabet = [
        "a",
        "B",
        " ",
        "  ",
        ".",
        "!",
        "?",
        "...",
        "…",
        "\n",
        "\r\n",
        "\t",
        '"',
        "'",
        ")",
        "😀",
        "é",
        "Dr.",
    ]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        pieces = _assert_tiles(text)
        # Every sentence but a blank-only text carries some non-blank character.
        assert all(p.strip() for p in pieces) or not text.strip()


def test_split_sentences_strips_and_drops_blank_pieces() -> None:
    assert split_sentences("  One.  Two!\n\n  ") == ["One.", "Two!"]


@pytest.fixture(scope="module")
def tiny_reviews(tiny_corpus: Path) -> pd.DataFrame:
    """The tiny SYNTHETIC corpus, cleaned, split 80/10/10 in file order."""
    reviews = pd.read_json(tiny_corpus / REVIEWS_FILE, lines=True)
    reviews["review_text"] = normalize_text(reviews["review_text"])
    n = len(reviews)
    reviews["split"] = np.where(
        np.arange(n) < 0.8 * n, "train", np.where(np.arange(n) < 0.9 * n, "valid", "test")
    )
    return reviews


@pytest.fixture(scope="module")
def sentence_model(tiny_reviews: pd.DataFrame) -> SentenceModel:
    split = tiny_reviews["split"]
    return train_sentence_model(
        tiny_reviews[split == "train"], tiny_reviews[split == "valid"], SentenceParams()
    )


@pytest.fixture(scope="module")
def baseline(tiny_reviews: pd.DataFrame) -> TfidfLogisticModel:
    split = tiny_reviews["split"]
    return train_baseline(tiny_reviews[split == "train"], tiny_reviews[split == "valid"], BaselineParams())


def test_sentence_model_singles_out_the_revealing_sentence(sentence_model: SentenceModel) -> None:
    text = (
        "The acting is solid overall. In the end it turns out the detective was the killer all along, "
        "and his brother dies. The soundtrack stayed with me for days."
    )
    spans, proba = sentence_model.score_review(text)

    assert len(spans) == 3
    assert int(np.argmax(proba)) == 1
    # The reveal is near certain; the filler around it stays clean. (The threshold, tuned
    # on whole reviews by their best sentence, sits near 0.9 on so small a corpus.)
    assert proba[1] > 0.8 and proba[[0, 2]].max() < 0.5, proba
    assert proba[[0, 2]].max() < sentence_model.threshold


def test_sentence_model_ranks_test_reviews_better_than_chance(
    sentence_model: SentenceModel, tiny_reviews: pd.DataFrame
) -> None:
    from sklearn.metrics import average_precision_score

    test = tiny_reviews[tiny_reviews["split"] == "test"]
    labels = test["is_spoiler"].to_numpy(dtype=bool)

    pr_auc = average_precision_score(labels, sentence_model.predict_proba(test))

    assert pr_auc > labels.mean() + 0.2, (
        f"SYNTHETIC test PR-AUC {pr_auc:.3f}, spoiler share {labels.mean():.3f}"
    )


def test_explanation_recovers_the_hashed_ngrams_exactly(baseline: TfidfLogisticModel) -> None:
    text = "The killer turns out to be the detective, and the brother dies at the end. Great score."
    pipeline = explainable_pipeline(baseline)
    assert pipeline is not None
    hashing, _, lr = (step for _, step in pipeline.steps)

    everything = top_spoiler_ngrams(pipeline, text, k=10_000)
    top = top_spoiler_ngrams(pipeline, text, k=5)

    assert 0 < len(top) <= 5 and top == everything[:5]
    assert [t.weight for t in top] == sorted((t.weight for t in top), reverse=True)
    grams = set(hashing.build_analyzer()(text))
    assert {t.ngram for t in everything} <= grams
    # Positive contributions recovered from the strings add up to the model's own positive
    # share of the logit (no hash collision in so short a text).
    row = pipeline[:-1].transform([text])
    contributions = row.multiply(lr.coef_[0]).toarray()[0]
    assert sum(t.weight for t in everything) == pytest.approx(
        contributions[contributions > 0].sum(), rel=1e-6
    )


def test_models_without_ngram_weights_are_not_explained() -> None:
    class Opaque:
        name = "opaque"
        threshold = 0.5

    assert explainable_pipeline(Opaque()) is None


def test_detokenize_joins_treebank_tokens() -> None:
    assert (
        detokenize("I did n't know , '' she said `` why '' ( yes ) .")
        == 'I didn\'t know," she said "why" (yes).'
    )
    assert detokenize("She 's here .") == "She's here."


def test_evaluate_sentence_scorers_reports_each_approach() -> None:
    sentences = pd.DataFrame({"sentence": ["a", "b", "c", "d"], "is_spoiler": [False, True, False, True]})
    scores = evaluate_sentence_scorers(
        sentences,
        {
            "perfect": ("m1", lambda s: np.array([0.1, 0.9, 0.2, 0.8])),
            "inverted": ("m2", lambda s: np.array([0.9, 0.1, 0.8, 0.2])),
        },
    )
    assert list(scores["approach"]) == ["perfect", "inverted"]
    assert scores.loc[0, "roc_auc"] == 1.0 and scores.loc[1, "roc_auc"] == 0.0
    with pytest.raises(ValueError, match="returned"):
        evaluate_sentence_scorers(sentences, {"short": ("m", lambda s: np.zeros(3))})


def test_goodreads_sentences_load_with_their_labels() -> None:
    if not (GOODREADS / "validation_10000.json").exists():
        pytest.skip(f"Goodreads sentences not found at {GOODREADS} (only the team's checkout has them)")
    sentences = load_goodreads_sentences(GOODREADS)

    assert len(sentences) == 13_155 and int(sentences["is_spoiler"].sum()) == 330
    assert (
        sentences["sentence"].iloc[2]
        == "I didn't know which feelings were my own and which feelings belonged to Holder."
    )
    sample = sample_sentences(sentences, SentenceSample(max_sentences=1_000, seed=1))
    assert len(sample) == 1_000 and 0 < sample["is_spoiler"].sum() < 100
