"""Review embeddings by month through a cache of vectors kept per encoder and month, keyed
by text digest: what the cache holds is not encoded again, and a month that gained
vectors is saved back whole, so the next run finds it.

The encoder's vectors depend on where it runs (int8 on CPUs, fp32 on GPU actors), so
what the cache holds is looked up again when the Ray pool turns out to want another spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from spoiler_assets.models.embeddings import (
    EMBEDDING_DIM,
    EncoderSpec,
    Progress,
    ReviewEmbeddings,
    encode_remembered,
    text_digest,
)
from spoiler_assets.models.ray_batches import EmbeddingParams, encode_on_ray, ray_pool


class VectorCache(Protocol):
    """Vectors by encoder tag and month, keyed by text digest (`EmbeddingCacheResource`)."""

    def load(self, tag: str, partition: str) -> dict[str, np.ndarray]: ...

    def save(self, tag: str, partition: str, digests: np.ndarray, vectors: np.ndarray) -> str: ...


@dataclass
class CacheLookup:
    """Per month, for one encoder: each review's text digest and the vectors the cache
    holds; `rows` are the (month, row) pairs it lacks, in month then row order."""

    spec: EncoderSpec
    digests: dict[str, np.ndarray]
    cached: dict[str, dict[str, np.ndarray]]
    rows: list[tuple[str, int]]

    @property
    def n_cached(self) -> int:
        return sum(len(d) for d in self.digests.values()) - len(self.rows)

    def texts(self, months: Mapping[str, pd.DataFrame]) -> list[str]:
        """The review texts of `rows`, in their order."""
        return [str(months[m]["review_text"].iloc[i]) for m, i in self.rows]

    def row_digests(self) -> list[str]:
        return [str(self.digests[m][i]) for m, i in self.rows]


def reviews_by_month(reviews: pd.DataFrame, months: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The reviews of each month (`YYYY-MM-01`, a review-month partition key)."""
    month_of = reviews["review_date"].dt.strftime("%Y-%m-01")
    return {m: reviews[month_of == m] for m in months}


def look_up(spec: EncoderSpec, months: Mapping[str, pd.DataFrame], cache: VectorCache) -> CacheLookup:
    """What `cache` holds of each month's reviews for `spec`, and which reviews it lacks."""
    digests = {m: rows["review_text"].map(text_digest).to_numpy(dtype=str) for m, rows in months.items()}
    cached = {m: cache.load(spec.tag, m) for m in months}
    rows = [(m, i) for m in months for i, d in enumerate(digests[m]) if d not in cached[m]]
    return CacheLookup(spec, digests, cached, rows)


def merge_and_store(
    lookup: CacheLookup, months: Mapping[str, pd.DataFrame], vectors: np.ndarray, cache: VectorCache
) -> dict[str, ReviewEmbeddings]:
    """Each month's matrix in row order, from the cached vectors and `vectors` (one per
    row of `lookup.rows`); the months that gained vectors are saved to `cache`."""
    for (m, i), vector in zip(lookup.rows, vectors, strict=True):
        lookup.cached[m][lookup.digests[m][i]] = vector
    changed = {m for m, _ in lookup.rows}
    out: dict[str, ReviewEmbeddings] = {}
    for m, rows in months.items():
        digests = lookup.digests[m]
        matrix = (
            np.stack([lookup.cached[m][d] for d in digests])
            if len(rows)
            else np.zeros((0, EMBEDDING_DIM), np.float32)
        )
        out[m] = ReviewEmbeddings(rows["review_id"].to_numpy(dtype=str), digests, matrix, lookup.spec)
        if m in changed:
            cache.save(lookup.spec.tag, m, digests, matrix)
    return out


@dataclass(frozen=True)
class EmbeddedMonths:
    """Each month's embeddings, the encoder that made them, where, and how many were new."""

    by_month: dict[str, ReviewEmbeddings]
    spec: EncoderSpec
    ran_on: str
    encoded_now: int
    from_cache: int  # the embedding cache's and this process's memo's


def embed_months(
    months: Mapping[str, pd.DataFrame],
    params: EmbeddingParams,
    cache: VectorCache,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> EmbeddedMonths:
    """Embeddings of each month's reviews: the cached ones read, the others encoded (on
    Ray Data actors when `params` want Ray for that many) and saved to `cache`."""
    spec = params.spec(None)
    lookup = look_up(spec, months, cache)
    # Ray only for what the cache does not hold; GPU actors then mean fp32 vectors.
    with ray_pool(params.ray_params(), len(lookup.rows)) as pool:
        if params.spec(pool) != spec:
            spec = params.spec(pool)
            lookup = look_up(spec, months, cache)
        ran_on = pool.describe() if pool is not None else "this process"
        if log is not None:
            log(f"{spec.tag}: {lookup.n_cached:,} reviews cached, {len(lookup.rows):,} to embed ({ran_on})")
        encoder = (lambda t, s, p: encode_on_ray(t, s, pool, p)) if pool is not None else None
        vectors, n_encoded = encode_remembered(
            lookup.texts(months), lookup.row_digests(), spec, progress, encoder
        )
    by_month = merge_and_store(lookup, months, vectors, cache)
    from_cache = len(lookup.rows) - n_encoded + lookup.n_cached
    return EmbeddedMonths(by_month, spec, ran_on, n_encoded, from_cache)
