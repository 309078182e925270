import pickle

import numpy as np
import pytest

from spoiler_assets.models.embeddings import (
    EMBEDDING_DIM,
    EncoderSpec,
    ReviewEmbeddings,
    encode,
    encode_remembered,
    load_encoder,
    lookup_embeddings,
    text_digest,
)

TEXTS = [
    "A slow start, but the last act is wonderful.",
    "The detective turns out to be the killer and his brother dies at the end. " * 12,
    "Great cast.",
]


def test_vectors_are_unit_length_float32_in_input_order() -> None:
    vectors = encode(TEXTS, EncoderSpec())
    assert vectors.shape == (3, EMBEDDING_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(encode(TEXTS[2:], EncoderSpec())[0], vectors[2], atol=1e-5)


def test_vectors_match_sentence_transformers_encode_at_the_same_length() -> None:
    spec = EncoderSpec(max_seq_length=128)
    reference = load_encoder(spec).encode(TEXTS, normalize_embeddings=True)
    cosine = (encode(TEXTS, spec) * reference).sum(axis=1)
    assert cosine.min() > 0.99


def test_spec_is_what_gets_pickled() -> None:
    spec = EncoderSpec()
    load_encoder(spec)
    assert len(pickle.dumps(spec)) < 500 and spec.tag == "all-MiniLM-L6-v2-seq256"


def test_remembered_texts_are_not_encoded_twice() -> None:
    spec = EncoderSpec(max_seq_length=64)
    digests = [text_digest(t) for t in TEXTS]
    first, n_first = encode_remembered(TEXTS, digests, spec)
    again, n_again = encode_remembered(TEXTS, digests, spec)
    assert (n_first, n_again) == (3, 0)
    np.testing.assert_array_equal(first, again)


def test_lookup_returns_vectors_by_review_id_across_partitions() -> None:
    spec = EncoderSpec()
    vectors = np.eye(3, EMBEDDING_DIM, dtype=np.float32)
    parts = [
        ReviewEmbeddings(np.array(["a", "b"]), np.array(["x", "y"]), vectors[:2], spec),
        ReviewEmbeddings(np.array(["c"]), np.array(["z"]), vectors[2:], spec),
    ]
    np.testing.assert_array_equal(lookup_embeddings(parts, ["c", "a"]), vectors[[2, 0]])
    with pytest.raises(KeyError, match="no embedding"):
        lookup_embeddings(parts, ["d"])
