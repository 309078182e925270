"""Benchmark: `POST /predict` throughput with 1 and 2 uvicorn workers on a running stack.

Reads the endpoints of a stack started by `make stack` (`.stack/endpoints.env`), makes
sure its registry has a champion (else registers a baseline trained on a small
SYNTHETIC corpus: cheap, and the API path is the same for every model), then starts the
API the production way with each worker count, warms every worker up, and measures
requests/s of concurrent clients. Not a test.

    python -m spoiler_assets_tests.benchmarks.stack_api_benchmark [--stack-dir .stack] [--requests 600]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from spoiler_assets_tests.servers import answers_ok, free_port, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
REVIEW = {"review_text": "I can't believe the detective turns out to be the killer at the end."}


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return {name: value for name, value in pairs}


def ensure_champion(env: dict[str, str]) -> str:
    """The champion's version, registering a SYNTHETIC baseline first if there is none."""
    from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
    from spoiler_assets.models.baseline import BaselineParams, train_baseline
    from spoiler_assets.resources.tracking import MlflowTrackingResource

    tracking = MlflowTrackingResource(
        tracking_uri=env["MLFLOW_TRACKING_URI"], model_name=env.get("SPOILER_MODEL_NAME", "spoiler-shield")
    )
    current = tracking.champion_version()
    if current is not None:
        return str(current.version)
    with tempfile.TemporaryDirectory() as folder:
        corpus = generate_corpus(Path(folder), CorpusSpec(n_reviews=1_500, n_movies=30, seed=3))
        reviews = pd.read_json(corpus.reviews_path, lines=True)
    frame = reviews.assign(is_spoiler=reviews["is_spoiler"].astype(int))
    model = train_baseline(frame.iloc[:1_200], frame.iloc[1_200:], BaselineParams())
    with tracking.start_run("stack-api-benchmark-baseline"):
        uri = tracking.log_classifier(model)
    version = tracking.register(uri, tags={"asset": "baseline_model", "corpus": "SYNTHETIC benchmark"})
    tracking.set_champion(version)
    return str(version.version)


def post(url: str) -> None:
    request = urllib.request.Request(url, json.dumps(REVIEW).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def measure(env: dict[str, str], workers: int, requests: int, clients: int) -> dict[str, Any]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:build_app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    process_env = {
        **os.environ,
        **env,
        "PYTHONPATH": str(ROOT),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    server = subprocess.Popen(command, cwd=ROOT, env=process_env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            lambda: answers_ok(f"{url}/ready"),
            f"the API with {workers} workers",
            timeout_s=300,
            interval_s=1,
            process=server,
        )
        # Each worker loads the champion on its first request: warm them all up first.
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda _: post(f"{url}/predict"), range(20 * workers)))
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda _: post(f"{url}/predict"), range(requests)))
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)
    return {"workers": workers, "requests": requests, "clients": clients, "rps": requests / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-dir", type=Path, default=ROOT / ".stack")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    env = read_env(args.stack_dir / "endpoints.env")
    version = ensure_champion(env)
    print(f"champion: version {version}; load before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for workers in (1, 2):
        result = measure(env, workers, args.requests, args.clients)
        print(
            f"  {workers} worker(s): {result['rps']:.0f} requests/s "
            f"({args.requests} requests, {args.clients} clients; load {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
