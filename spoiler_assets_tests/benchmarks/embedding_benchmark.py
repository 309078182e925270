"""Benchmark: sentence-embedding throughput on this CPU, each path against the reference.

On the same review texts (SYNTHETIC; real ones with --texts), in one process, prints
reviews per second of
  - `SentenceTransformer.encode` at the checkpoint's full length (256 tokens): the reference,
  - our path (`spoiler_assets.models.embeddings.encode`) on torch (`runtime="torch"`),
  - our path on ONNX Runtime, fp32 (the default runtime: API, drift descriptors),
  - our path on ONNX Runtime, int8 (review_embeddings' default on CPUs),
  - our path on ONNX Runtime, fp32 at the opt-in shorter length (128 tokens),
  - with `--ray`: int8 on Ray Data actors (in-process Ray, one actor per CPU), after Ray
    has started (its start is printed apart; each call starts its actors, as a run does),
with the speed ratio and the cosine agreement (min and mean over the texts) of each
against the reference, then the bars: fp32 >= 1.6x at min cosine >= 0.999; a faster
variant is a default only at min cosine >= 0.99. Rounds alternate between the paths so
that load from other processes falls on all of them. ONNX exports are made (or found in
the cache) before timing; their build time is printed. Not a test.

    python -m spoiler_assets_tests.benchmarks.embedding_benchmark [--reviews 400] [--rounds 2] [--ray]
        [--texts ../shared/data/imdb_real_sample/IMDB_reviews.json]   # REAL texts instead
"""

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.models.embeddings import EncoderSpec, encode, load_encoder, load_onnx_encoder

REFERENCE = "SentenceTransformer.encode, 256 tokens (reference)"
FP32, INT8 = "ours, ONNX fp32 (default runtime)", "ours, ONNX int8 (embeddings default on CPU)"


def synthetic_texts(n: int) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        generate_corpus(Path(folder), CorpusSpec(n_reviews=n, n_movies=40, seed=11))
        with (Path(folder) / "IMDB_reviews.json").open() as lines:
            return [json.loads(line)["review_text"] for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-seq-length", type=int, default=EncoderSpec().max_seq_length)
    parser.add_argument("--short-seq-length", type=int, default=128)
    parser.add_argument("--ray", action="store_true", help="also time Ray Data (in-process Ray)")
    parser.add_argument(
        "--texts", type=Path, help="IMDB_reviews.json (JSON lines): its first --reviews texts"
    )
    args = parser.parse_args()
    if args.texts:
        with args.texts.open() as lines:
            texts = [json.loads(line)["review_text"] for line in lines][: args.reviews]
    else:
        texts = synthetic_texts(args.reviews)
    corpus = f"REAL reviews from {args.texts}" if args.texts else "SYNTHETIC reviews"
    n = args.max_seq_length
    specs = {
        f"ours, torch (SentenceTransformer in blocks), {n} tokens": EncoderSpec(
            max_seq_length=n, runtime="torch"
        ),
        FP32: EncoderSpec(max_seq_length=n),
        INT8: EncoderSpec(max_seq_length=n, precision="int8"),
        f"ours, ONNX fp32, opt-in {args.short_seq_length} tokens": EncoderSpec(
            max_seq_length=args.short_seq_length
        ),
    }
    for spec in specs.values():
        if spec.runtime == "onnx":
            started = time.perf_counter()
            load_onnx_encoder(spec)
            print(f"ONNX {spec.tag}: export ready (built or cached) in {time.perf_counter() - started:.1f}s")
    full = load_encoder(EncoderSpec(max_seq_length=256))
    paths: dict[str, Callable[[list[str]], np.ndarray]] = {
        REFERENCE: lambda t: full.encode(t, batch_size=32, normalize_embeddings=True),
        **{name: (lambda s: lambda t: encode(t, s))(spec) for name, spec in specs.items()},
    }
    with ExitStack() as stack:
        if args.ray:
            paths["ours, ONNX int8 on Ray Data (in-process Ray, actor start incl.)"] = _ray_path(
                stack, specs[INT8], len(texts)
            )
        for run in paths.values():
            run(texts[:8])  # warm up
        seconds = {name: 0.0 for name in paths}
        vectors: dict[str, np.ndarray] = {}
        for _ in range(args.rounds):
            for name, run in paths.items():
                start = time.perf_counter()
                vectors[name] = run(texts)
                seconds[name] += time.perf_counter() - start
    chars = np.mean([len(t) for t in texts])
    print(f"{corpus}: {len(texts)} texts, mean {chars:.0f} characters, {args.rounds} rounds")
    print(f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end")
    result = {}
    for name in paths:
        rate = len(texts) * args.rounds / seconds[name]
        cosine = (vectors[REFERENCE] * vectors[name]).sum(axis=1)
        ratio = seconds[REFERENCE] / seconds[name]
        result[name] = (ratio, float(cosine.min()))
        agreement = f"cosine to the reference: min {cosine.min():.4f} mean {cosine.mean():.4f}"
        print(f"  {name:<66} {rate:6.1f} reviews/s ({ratio:.2f}x)   {agreement}")
    bar = result[FP32][0] >= 1.6 and result[FP32][1] >= 0.999
    print(f"bar (fp32 >= 1.6x at min cosine >= 0.999): {'met' if bar else 'NOT met'} {result[FP32]}")
    keeps = result[INT8][1] >= 0.99
    print(f"int8 as a default (min cosine >= 0.99): {'allowed' if keeps else 'NOT allowed'} {result[INT8]}")


def _ray_path(stack: ExitStack, spec: EncoderSpec, n: int) -> Callable[[list[str]], np.ndarray]:
    from spoiler_assets.models.ray_batches import RayBatchParams, encode_on_ray, ray_pool

    started = time.perf_counter()
    pool = stack.enter_context(ray_pool(RayBatchParams(runner="ray"), n))
    assert pool is not None
    print(f"Ray started in {time.perf_counter() - started:.1f}s; {pool.describe()}")
    return lambda t: encode_on_ray(t, spec, pool)


if __name__ == "__main__":
    main()
