"""Review embeddings through the vector cache: what it holds is read, the rest encoded and saved."""

import numpy as np
import pandas as pd

from spoiler_assets.models.embedding_cache import embed_months, look_up, merge_and_store, reviews_by_month
from spoiler_assets.models.embeddings import EMBEDDING_DIM, EncoderSpec, text_digest
from spoiler_assets.models.ray_batches import EmbeddingParams

SPEC = EncoderSpec(max_seq_length=16)


class DictCache:
    """The embedding cache in memory; records which months were saved."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self.saved: list[str] = []

    def load(self, tag: str, partition: str) -> dict[str, np.ndarray]:
        return dict(self.stored.get((tag, partition), {}))

    def save(self, tag: str, partition: str, digests: np.ndarray, vectors: np.ndarray) -> str:
        self.stored[(tag, partition)] = dict(zip(digests.tolist(), vectors, strict=True))
        self.saved.append(partition)
        return partition


def _reviews(texts: list[str], month: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review_id": [f"{month}-{i}" for i in range(len(texts))],
            "review_text": texts,
            "review_date": pd.Timestamp(month) + pd.Timedelta(days=3),
        }
    )


def _vector(value: float) -> np.ndarray:
    return np.full(EMBEDDING_DIM, value, dtype=np.float32)


def _months() -> dict[str, pd.DataFrame]:
    reviews = pd.concat([_reviews(["a", "b", "c"], "2024-01-01"), _reviews(["d"], "2024-02-01")])
    return reviews_by_month(reviews, ["2024-01-01", "2024-02-01", "2024-03-01"])


def test_only_reviews_the_cache_lacks_are_to_encode() -> None:
    cache = DictCache()
    cache.save(SPEC.tag, "2024-01-01", np.array([text_digest("a")]), _vector(1)[None])
    cache.save(SPEC.tag, "2024-02-01", np.array([text_digest("d")]), _vector(4)[None])
    months = _months()

    lookup = look_up(SPEC, months, cache)

    assert lookup.rows == [("2024-01-01", 1), ("2024-01-01", 2)]
    assert lookup.texts(months) == ["b", "c"] and lookup.n_cached == 2
    assert lookup.row_digests() == [text_digest("b"), text_digest("c")]


def test_merged_months_keep_row_order_and_only_changed_months_are_saved() -> None:
    cache = DictCache()
    cache.save(SPEC.tag, "2024-01-01", np.array([text_digest("b")]), _vector(2)[None])
    cache.save(SPEC.tag, "2024-02-01", np.array([text_digest("d")]), _vector(4)[None])
    cache.saved.clear()
    months = _months()
    lookup = look_up(SPEC, months, cache)

    out = merge_and_store(lookup, months, np.stack([_vector(1), _vector(3)]), cache)

    np.testing.assert_array_equal(out["2024-01-01"].vectors[:, 0], [1, 2, 3])
    assert out["2024-01-01"].review_ids.tolist() == ["2024-01-01-0", "2024-01-01-1", "2024-01-01-2"]
    assert out["2024-03-01"].vectors.shape == (0, EMBEDDING_DIM)
    assert cache.saved == ["2024-01-01"]  # February was complete, March is empty
    assert look_up(SPEC, months, cache).rows == []


def test_a_second_run_reads_every_vector_from_the_cache() -> None:
    cache = DictCache()
    params = EmbeddingParams(max_seq_length=16, runner="local")
    months = _months()

    first = embed_months(months, params, cache)
    saved_first = list(cache.saved)
    again = embed_months(months, params, cache)

    assert first.ran_on == "this process" and first.spec == params.spec(None)
    assert saved_first == ["2024-01-01", "2024-02-01"] and cache.saved == saved_first
    assert (again.encoded_now, again.from_cache) == (0, 4)
    for month, embedded in first.by_month.items():
        np.testing.assert_array_equal(embedded.vectors, again.by_month[month].vectors)
