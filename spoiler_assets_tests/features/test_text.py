import pytest

from spoiler_assets.features.schema import TEXT_FEATURES
from spoiler_assets.features.text import text_feature_columns, text_statistics


def stats(text: str) -> dict[str, float]:
    return dict(zip(TEXT_FEATURES, text_statistics(text), strict=True))


def test_length_and_sentences() -> None:
    result = stats("A fine film. Really? Yes!")
    assert result["review_words"] == 5
    assert result["review_sentences"] == 3
    assert result["question_share"] == pytest.approx(1 / 5)
    assert result["exclamation_share"] == pytest.approx(1 / 5)


def test_lexicon_sentiment_with_negation() -> None:
    assert stats("a wonderful and moving film")["sentiment_score"] > 0
    assert stats("a boring and awful film")["sentiment_score"] < 0
    negated = stats("it was not good")
    assert negated["negative_word_share"] > 0 and negated["positive_word_share"] == 0


def test_spoiler_cues_count_words_and_bigrams() -> None:
    assert stats("the killer turns out to be his father")["spoiler_cue_share"] == pytest.approx(4 / 8)
    assert stats("lovely costumes and music")["spoiler_cue_share"] == 0


def test_columns_follow_the_schema_for_many_texts() -> None:
    columns = text_feature_columns(["one two", "three"])
    assert list(columns) == list(TEXT_FEATURES)
    assert columns["review_words"] == [2.0, 1.0]
