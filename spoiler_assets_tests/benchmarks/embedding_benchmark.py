"""Benchmark: sentence-embedding throughput on this CPU, our path against the reference.

On the same SYNTHETIC review texts, in the same process, prints reviews per second of
  - `SentenceTransformer.encode` at the checkpoint's full length (256 tokens): the reference,
  - our path (`spoiler_assets.models.embeddings.encode`) at its default length,
  - our path at the opt-in shorter length (128 tokens),
with the speed ratio and the cosine agreement of each against the reference. Rounds
alternate between the paths so that load from other processes falls on all of them.
Not a test.

    python -m spoiler_assets_tests.benchmarks.embedding_benchmark [--reviews 400] [--rounds 2]
"""

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.models.embeddings import EncoderSpec, encode, load_encoder


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
    args = parser.parse_args()
    texts = synthetic_texts(args.reviews)
    spec = EncoderSpec(max_seq_length=args.max_seq_length)
    short = EncoderSpec(max_seq_length=args.short_seq_length)
    full = load_encoder(EncoderSpec(max_seq_length=256))
    paths: dict[str, Callable[[list[str]], np.ndarray]] = {
        "SentenceTransformer.encode, 256 tokens (reference)": lambda t: full.encode(
            t, batch_size=32, normalize_embeddings=True
        ),
        f"ours (encode in blocks, progress), {spec.max_seq_length} tokens": lambda t: encode(t, spec),
        f"ours, opt-in {short.max_seq_length} tokens": lambda t: encode(t, short),
    }
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
    print(f"SYNTHETIC reviews: {len(texts)} texts, mean {chars:.0f} characters, {args.rounds} rounds")
    print(f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end")
    reference = list(paths)[0]
    for name in paths:
        rate = len(texts) * args.rounds / seconds[name]
        cosine = (vectors[reference] * vectors[name]).sum(axis=1)
        agreement = f"cosine to the reference: min {cosine.min():.4f} mean {cosine.mean():.4f}"
        ratio = seconds[reference] / seconds[name]
        print(f"  {name:<52} {rate:6.1f} reviews/s ({ratio:.2f}x)   {agreement}")


if __name__ == "__main__":
    main()
