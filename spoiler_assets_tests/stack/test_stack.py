"""The production shape run as a whole: `scripts/stack.sh` starts PostgreSQL, Redis, S3
(moto's server; MinIO in compose), an MLflow server on Postgres + S3, a Ray head, the
Dagster code server, webserver and daemon on Postgres storage, and the API with 2
workers, all as processes. The test drives them as an operator and a user would: the
champion lineage launched through the webserver's GraphQL API (as the UI's Materialize
does), then a month landed for the daemon's landing sensor. SYNTHETIC data throughout.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3
import psycopg2
import pytest
import redis
from dagster_graphql import DagsterGraphQLClient
from mlflow import MlflowClient

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.partitions import all_months_tags, review_months
from spoiler_assets.settings import Settings
from spoiler_assets_tests.helpers import LEAN_CHAMPION
from spoiler_assets_tests.servers import free_port
from spoiler_assets_tests.stack.conftest import RUNNING

# Start-up (MLflow migrations, Ray, code location loads on 2 shared cores), a champion
# run with a process per step and a sensor run: tens of minutes at worst.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.stack, pytest.mark.timeout(3600)]

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = REPO_ROOT / "scripts" / "stack.sh"
ENV_EXAMPLE = REPO_ROOT / "deploy" / ".env.example"
MODEL_NAME = "spoiler-shield-stack"
S3_PREFIX = "assets"
FIRST_MONTH, LAST_MONTH = "2016-01", "2017-03"  # the tiny corpus is 2016; 2017-01 lands later
LANDED_MONTH = "2017-01-01"
PORTS = (
    "POSTGRES_PORT",
    "REDIS_PORT",
    "S3_PORT",
    "MLFLOW_PORT",
    "RAY_PORT",
    "DAGSTER_GRPC_PORT",
    "DAGSTER_WEBSERVER_PORT",
    "API_PORT",
)
# Variables of the caller's shell that would point the stack somewhere else.
_FOREIGN = ("SPOILER_", "AWS_", "MLFLOW_", "DAGSTER_", "STACK_", "RAY_", "REDIS_URL")
STARTUP_TIMEOUT_S = 1500
RUN_TIMEOUT_S = 2400
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
# The suite's lean model budget; steps forked from a server that imported the code
# location once: a spawned step re-imports it (torch, feast, ...), a minute per step
# on 2 loaded cores, a few seconds when forked. Still a process per step.
RUN_CONFIG = {**LEAN_CHAMPION, "execution": {"config": {"start_method": {"forkserver": {}}}}}


@dataclass(frozen=True)
class Stack:
    """A running stack: its folder and the endpoints the script wrote."""

    folder: Path
    env: dict[str, str]
    startup_s: float

    @property
    def webserver_port(self) -> int:
        return int(self.env["WEBSERVER_URL"].rsplit(":", 1)[1])

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        )

    def postgres(self, query: str, *params: str) -> list[tuple[Any, ...]]:
        connection = psycopg2.connect(
            host=self.env["DAGSTER_PG_HOST"],
            port=int(self.env["DAGSTER_PG_PORT"]),
            user=self.env["DAGSTER_PG_USER"],
            password=self.env["DAGSTER_PG_PASSWORD"],
            dbname=self.env["DAGSTER_PG_DB"],
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(query, params)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.env['WEBSERVER_URL']}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        assert "errors" not in answer, answer["errors"]
        return answer["data"]

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.env['API_URL']}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)


def _stack_env(folder: Path, seed: Path) -> dict[str, str]:
    """The script's environment: this process's, without anything pointing elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
    return {**env, "STACK_DIR": str(folder), "STACK_SEED_DIR": str(seed)}


def _write_settings(folder: Path) -> None:
    """The compose env file, as an operator would copy it, with free ports and the
    test's corpus bounds appended (a later line wins when the file is sourced)."""
    base = ENV_EXAMPLE.read_text() if ENV_EXAMPLE.exists() else ""
    overrides = {name: str(free_port()) for name in PORTS}
    overrides.update(
        SPOILER_SOURCE="",  # the script's default: s3://<bucket>/source, seeded with the corpus
        SPOILER_S3_PREFIX=S3_PREFIX,
        SPOILER_FIRST_MONTH=FIRST_MONTH,
        SPOILER_LAST_MONTH=LAST_MONTH,
        SPOILER_SENSOR_INTERVAL_S="5",
        SPOILER_MODEL_NAME=MODEL_NAME,
        # All four compete: the transformer is what trains on the stack's Ray head (with the
        # package shipped in the runtime env), though this machine has no GPU.
        SPOILER_MODELS="baseline_model,xgboost_model,mlp_model,transformer_model",
        API_WORKERS="2",
    )
    lines = "\n".join(f"{name}={value}" for name, value in overrides.items())
    (folder / "stack.env").write_text(f"{base}\n# stack test\n{lines}\n")


def _read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return {name: value for name, value in pairs}


def _logs(folder: Path, lines: int = 40) -> str:
    parts = []
    for log in sorted((folder / "logs").glob("*.log")):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        parts.append(f"--- {log.name} ---\n{tail}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def stack(tiny_corpus: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """`scripts/stack.sh up` in a fresh folder, `down` at the end (the folder is kept
    when a test failed, for its logs)."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or not shutil.which("redis-server"):
        message = "the stack needs Debian's postgresql and redis-server (apt-get install; see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Short and world-traversable: PostgreSQL runs as its own user, Ray's sockets live here.
    folder = Path(tempfile.mkdtemp(prefix="spoiler-stack-"))
    folder.chmod(0o755)
    _write_settings(folder)
    env = _stack_env(folder, tiny_corpus)
    failed_before = request.session.testsfailed
    RUNNING["dir"] = folder
    try:
        started = time.monotonic()
        try:
            up = subprocess.run(
                [str(STACK_SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(
                f"stack.sh up still running after {STARTUP_TIMEOUT_S}s:\n{timeout.stdout!r}\n{_logs(folder)}"
            )
        if up.returncode != 0:
            pytest.fail(f"stack.sh up failed ({up.returncode}):\n{up.stdout}\n{up.stderr}\n{_logs(folder)}")
        startup_s = time.monotonic() - started
        print(f"\n{up.stdout}stack start-up: {startup_s:.0f}s (load {os.getloadavg()[0]:.1f})")
        yield Stack(folder, _read_env(folder / "endpoints.env"), startup_s)
    finally:
        down = subprocess.run(
            [str(STACK_SCRIPT), "down"], env=env, capture_output=True, text=True, timeout=900
        )
        RUNNING.pop("dir", None)
        if request.session.testsfailed == failed_before and down.returncode == 0:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"stack folder kept for its logs: {folder}\n{down.stdout}{down.stderr}")
        assert down.returncode == 0, f"stack.sh down failed:\n{down.stdout}\n{down.stderr}"


_RUN_QUERY = """query ($runId: ID!) { runOrError(runId: $runId) { __typename
  ... on Run { status startTime endTime } } }"""
_FAILURES_QUERY = """query ($runId: ID!) { logsForRun(runId: $runId) { __typename
  ... on EventConnection { events { __typename
    ... on MessageEvent { message level stepKey } } } } }"""
_SENSOR_RUNS_QUERY = """{ runsOrError(filter: {pipelineName: "landing_job",
  tags: [{key: "dagster/sensor_name", value: "landing_sensor"}]}) {
  __typename ... on Runs { results { runId status tags { key value } } } } }"""


def _failure_messages(stack: Stack, run_id: str) -> str:
    events = stack.graphql(_FAILURES_QUERY, {"runId": run_id})["logsForRun"].get("events", [])
    errors = [f"{e.get('stepKey')}: {e.get('message')}" for e in events if e.get("level") == "ERROR"]
    return "\n".join(errors[-20:]) or "(no ERROR events)"


def _wait_for_run(stack: Stack, run_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        run = stack.graphql(_RUN_QUERY, {"runId": run_id})["runOrError"]
        if run.get("status") in FINISHED:
            return dict(run)
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} not finished after {timeout_s:.0f}s (status {run.get('status')})")
        time.sleep(5)


@dataclass(frozen=True)
class ChampionRun:
    run_id: str
    wall_s: float
    launched_at: float


@pytest.fixture(scope="module")
def champion_run(stack: Stack) -> ChampionRun:
    """`champion_job` over every month, launched through the webserver's GraphQL API: the
    daemon dequeues it and the code server's run launcher starts it in its own process."""
    months = review_months(
        Settings.from_env({"SPOILER_FIRST_MONTH": FIRST_MONTH, "SPOILER_LAST_MONTH": LAST_MONTH})
    )
    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.webserver_port, timeout=60)
    launched_at = time.time()
    run_id = client.submit_job_execution("champion_job", run_config=RUN_CONFIG, tags=all_months_tags(months))
    run = _wait_for_run(stack, run_id, RUN_TIMEOUT_S)
    assert run["status"] == "SUCCESS", _failure_messages(stack, run_id)
    wall_s = float(run["endTime"]) - float(run["startTime"])
    print(f"\nchampion_job on the stack (SYNTHETIC tiny corpus, lean budget): {wall_s:.0f}s wall")
    return ChampionRun(run_id, wall_s, launched_at)


def test_champion_run_is_recorded_in_postgres(stack: Stack, champion_run: ChampionRun) -> None:
    [(status,)] = stack.postgres("SELECT status FROM runs WHERE run_id = %s", champion_run.run_id)
    assert status == "SUCCESS"
    keys = stack.postgres(
        "SELECT DISTINCT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
        champion_run.run_id,
        "ASSET_MATERIALIZATION",
    )
    materialized = {json.loads(key)[-1] for (key,) in keys}
    assert {"raw_reviews", "transformer_model", "online_features", "champion_model"} <= materialized


def test_asset_outputs_are_in_s3(stack: Stack, champion_run: ChampionRun) -> None:
    bucket = stack.env["SPOILER_S3_BUCKET"]
    pages = stack.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{S3_PREFIX}/")
    stored = {o["Key"] for page in pages for o in page.get("Contents", [])}
    expected = {f"{S3_PREFIX}/{name}" for name in ("cleaned_reviews", "transformer_model", "champion_model")}
    assert expected | {f"{S3_PREFIX}/raw_reviews/2016-06-01"} <= stored
    assert any(key.startswith(f"{S3_PREFIX}/feature_store/") for key in stored), "no Feast files on S3"


def test_transformer_trained_on_the_stack_ray_head(stack: Stack, champion_run: ChampionRun) -> None:
    """Ray Train's workers ran in the head that the script started (its own temp folder),
    not in a Ray started inside the run."""
    logs = stack.folder / "ray" / "session_latest" / "logs"
    workers = [p.name for p in logs.glob("worker-*") if "RayTrainWorker" in p.read_text(errors="replace")]
    assert workers, f"no RayTrainWorker in {logs}"


def test_champion_alias_in_mlflow_and_features_in_redis(stack: Stack, champion_run: ChampionRun) -> None:
    version = MlflowClient(stack.env["MLFLOW_TRACKING_URI"]).get_model_version_by_alias(
        MODEL_NAME, "champion"
    )
    assert version.creation_timestamp / 1000 >= champion_run.launched_at
    keys = cast(int, redis.Redis.from_url(stack.env["REDIS_URL"]).dbsize())
    assert keys > 0, "the online store in Redis is empty"


def test_api_workers_serve_the_new_champion(stack: Stack, champion_run: ChampionRun) -> None:
    version = MlflowClient(stack.env["MLFLOW_TRACKING_URI"]).get_model_version_by_alias(
        MODEL_NAME, "champion"
    )
    review = {"review_text": "I can't believe the detective turns out to be the killer at the end."}
    # Several requests, so that both workers most likely answer (each loads the champion).
    answers = [stack.post("/predict", review) for _ in range(6)]
    assert {a["model_version"] for a in answers} == {str(version.version)}
    assert all(0.0 <= a["spoiler_probability"] <= 1.0 for a in answers)


def test_landed_month_starts_a_sensor_run_that_succeeds(
    stack: Stack, champion_run: ChampionRun, tmp_path: Path
) -> None:
    month = CorpusSpec(n_reviews=300, n_movies=30, seed=11, first_month="2017-01", last_month="2017-01")
    corpus = generate_corpus(tmp_path, month)
    landing = f"{S3_PREFIX}/landing/2017-01.json"
    stack.s3().upload_file(str(corpus.reviews_path), stack.env["SPOILER_S3_BUCKET"], landing)

    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        runs = stack.graphql(_SENSOR_RUNS_QUERY)["runsOrError"]["results"]
        if runs and runs[0]["status"] in FINISHED:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no finished landing_sensor run {RUN_TIMEOUT_S}s after landing {landing}: {runs}")
        time.sleep(5)

    run = runs[0]
    assert run["status"] == "SUCCESS", _failure_messages(stack, run["runId"])
    assert {"key": "dagster/partition", "value": LANDED_MONTH} in run["tags"]
    [(status,)] = stack.postgres("SELECT status FROM runs WHERE run_id = %s", run["runId"])
    assert status == "SUCCESS"
