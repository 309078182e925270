import json
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from spoiler_assets.models import onnx_encoder
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
    spec = EncoderSpec(max_seq_length=128)  # ONNX Runtime, fp32: the default runtime
    reference = load_encoder(spec).encode(TEXTS, normalize_embeddings=True)
    for runtime in ("onnx", "torch"):
        cosine = (encode(TEXTS, EncoderSpec(max_seq_length=128, runtime=runtime)) * reference).sum(axis=1)
        assert cosine.min() >= 0.9999, runtime


def test_int8_vectors_are_close_to_fp32_tagged_apart_and_independent_of_the_batch() -> None:
    fp32, int8 = EncoderSpec(max_seq_length=128), EncoderSpec(max_seq_length=128, precision="int8")
    together = encode(TEXTS, int8)
    alone = np.vstack([encode([text], int8) for text in TEXTS])

    assert (together * encode(TEXTS, fp32)).sum(axis=1).min() >= 0.99
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert int8.tag == "all-MiniLM-L6-v2-seq128-int8" and fp32.tag == "all-MiniLM-L6-v2-seq128"
    with pytest.raises(ValueError, match="ONNX"):
        EncoderSpec(precision="int8", runtime="torch")


def test_a_spec_pickled_before_precision_and_runtime_reads_fp32_on_onnx() -> None:
    old = object.__new__(EncoderSpec)
    old.__dict__.update(model_path=None, max_seq_length=256, batch_size=32)  # the old fields only
    spec = pickle.loads(pickle.dumps(old))
    assert (spec.precision, spec.runtime, spec.tag) == ("fp32", "onnx", "all-MiniLM-L6-v2-seq256")


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_concurrent_threads_get_the_sequential_vectors(runtime: str) -> None:
    spec = EncoderSpec(max_seq_length=64, runtime=runtime)
    texts = [f"{i}: {TEXTS[i % 3]}" for i in range(24)]
    sequential = encode(texts, spec)
    start = threading.Barrier(8)

    def one(i: int) -> np.ndarray:
        start.wait()  # all threads inside the encoder at once
        return encode(texts[i::8], spec)

    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(one, range(8)))
    for i, part in enumerate(parts):
        np.testing.assert_allclose(part, sequential[i::8], atol=1e-5)


@pytest.mark.slow
def test_export_is_built_once_by_concurrent_callers_and_checked(tmp_path: Path) -> None:
    model_dir = Path(EncoderSpec().resolved_path())
    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(lambda _: onnx_encoder.ensure_exported(model_dir, "fp32", tmp_path), [0, 1]))

    assert folders[0] == folders[1] and [p for p in tmp_path.iterdir() if p.is_dir()] == [folders[0]]
    meta = (folders[0] / "meta.json").read_text()
    assert '"probe_min_cosine": 1.0' in meta or '"probe_min_cosine": 0.9999' in meta


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


@pytest.mark.slow
def test_int8_keeps_min_cosine_099_on_real_reviews(real_sample_dir: Path) -> None:
    """The rule for a faster default: its worst vector still within 0.99 of `encode`'s."""
    with (real_sample_dir / "IMDB_reviews.json").open() as lines:
        texts = [json.loads(line)["review_text"] for line in lines]
    reference = encode(texts, EncoderSpec())  # fp32: `encode`'s vectors (tested above), 2x sooner
    cosine = (encode(texts, EncoderSpec(precision="int8")) * reference).sum(axis=1)
    assert len(texts) > 250 and cosine.min() >= 0.99
