"""Benchmark: `POST /predict` served by a hybrid champion, features from Redis.

Builds a SYNTHETIC corpus into a Redis-backed feature store, trains the hybrid XGBoost
model on it, registers it as `champion` in a local MLflow registry, and starts the API
the production way (`uvicorn --factory api.main:build_app`, settings from environment
variables). Prints p50 / p99 latency of sequential single-review requests and the
throughput of concurrent clients. Not a test.

    python -m spoiler_assets_tests.benchmarks.api_benchmark [--reviews 3000] [--requests 1000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient

from spoiler_assets.models.pyfunc import SpoilerPyfunc
from spoiler_assets_tests.benchmarks.setup import load_store, prepare, test_requests, train_model
from spoiler_assets_tests.servers import answers_ok, free_port, redis_server, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def register(tracking_uri: str, model: Any, folder: Path) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("benchmark", artifact_location=(folder / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.pyfunc.log_model(name="model", python_model=SpoilerPyfunc(model), pip_requirements=[])
    version = mlflow.register_model(info.model_uri, "spoiler-shield")
    client.set_registered_model_alias("spoiler-shield", "champion", version.version)


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:build_app", "--port", str(port)]
    server = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        wait_until_ready(
            lambda: answers_ok(f"http://127.0.0.1:{port}/ready"),
            "the API",
            timeout_s=180,
            interval_s=1,
            process=server,
        )
    except BaseException:
        server.terminate()
        raise
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=3_000, help="SYNTHETIC corpus size")
    parser.add_argument("--max-train", type=int, default=1_500, help="training reviews for the model")
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for throughput")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
        folder = Path(tmp)
        corpus = prepare(folder, args.reviews, redis_url)
        store = load_store(corpus)
        started = time.perf_counter()
        model = train_model(store, corpus, args.max_train)
        print(f"hybrid XGBoost trained in {time.perf_counter() - started:.0f}s on SYNTHETIC reviews")
        tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
        register(tracking_uri, model, folder)
        env = {
            **os.environ,
            "SPOILER_DATA_DIR": str(corpus.settings.data_dir),
            "MLFLOW_TRACKING_URI": tracking_uri,
            "REDIS_URL": redis_url,
            "PYTHONPATH": str(ROOT),
        }
        port = free_port()
        server = serve(env, port)
        try:
            url = f"http://127.0.0.1:{port}/predict"
            bodies = test_requests(corpus, args.requests).to_dict("records")
            for body in bodies[:20]:
                post(url, body)  # warm up
            latencies, answers = [], []
            for body in bodies:
                start = time.perf_counter()
                answers.append(post(url, body))
                latencies.append(time.perf_counter() - start)
            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda b: post(url, b), bodies))
            wall = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=30)
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    with_missing = sum(bool(a["missing_features"]) for a in answers)
    print(f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"  POST /predict, {len(bodies)} sequential requests: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"  throughput with {args.clients} concurrent clients: {len(bodies) / wall:.1f} requests/s")
    reasons = "unknown movie, no synopsis, new user"
    print(f"  {with_missing} of {len(answers)} answers had missing features ({reasons})")


if __name__ == "__main__":
    main()
