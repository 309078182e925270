"""A `ray start --head` cluster of this machine, reached the way production reaches one:
RAY_ADDRESS. Like a fresh cluster, its workers have the libraries but not this package (no
PYTHONPATH to the checkout, another working directory): what runs there arrived with the
job. The module starts its own head (own temporary folder and ports) and stops that head
only: other Ray instances on the machine are left alone."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from spoiler_assets.assets.hybrid import EmbeddingConfig, build_review_embeddings
from spoiler_assets.models.embeddings import encode
from spoiler_assets.models.ray_runtime import PACKAGE_DIR, ray_session
from spoiler_assets.resources.feature_store import EmbeddingCacheResource
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets_tests.servers import free_port

MONTHS = dg.MonthlyPartitionsDefinition(start_date="2016-01-01", end_date="2016-03-01")
_PORT_FLAGS = (
    "--object-manager-port", "--node-manager-port", "--ray-client-server-port", "--metrics-export-port",
    "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--runtime-env-agent-port",
)  # fmt: skip


def _processes_using(folder: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and folder in (proc / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@contextmanager
def ray_head() -> Iterator[str]:
    """A Ray head on free ports with a temporary folder of its own, with Ray's token
    authentication on the user's token (`~/.ray/auth_token`, which an in-process Ray
    creates and then holds this process to: its auth mode is fixed at the first
    `ray.init`); yields its address."""
    ray = str(Path(sys.executable).parent / "ray")
    if not (Path.home() / ".ray" / "auth_token").exists():  # never replace one in use
        subprocess.run([ray, "get-auth-token", "--generate"], check=True, capture_output=True)
    folder = tempfile.mkdtemp(prefix="rayh", dir="/tmp")  # short: Ray's socket paths are capped
    port, workers = free_port(), free_port()
    command = [
        ray, "start", "--head", "--block", f"--port={port}",
        "--node-ip-address=127.0.0.1", f"--temp-dir={folder}", "--num-cpus=2",
        "--include-dashboard=false", "--disable-usage-stats",
        f"--min-worker-port={workers}", f"--max-worker-port={workers + 40}",
        *(f"{flag}={free_port()}" for flag in _PORT_FLAGS),
    ]  # fmt: skip
    with (Path(folder) / "head.log").open("w") as log:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"RAY_AUTH_MODE": "token"}
        head = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not list(Path(folder).glob("session_*/sockets/raylet*")):
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"ray head did not start: {(Path(folder) / 'head.log').read_text()[-2000:]}"
                )
            time.sleep(1)
        yield address
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        deadline = time.monotonic() + 30
        while _processes_using(folder) and time.monotonic() < deadline:
            time.sleep(1)
        for pid in _processes_using(folder):  # this head's own processes, by PID
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One head for the module: it takes seconds to start."""
    with ray_head() as address:
        yield address


@pytest.fixture
def at_cluster(cluster: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """RAY_ADDRESS set, and the driver away from the checkout: Ray adds the driver's working
    directory to its workers' import path, which only reaches them on this machine."""
    monkeypatch.setenv("RAY_ADDRESS", cluster)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.chdir(tmp_path)
    return cluster


@pytest.mark.slow
@pytest.mark.integration
def test_the_package_travels_to_the_cluster_in_the_runtime_env(at_cluster: str) -> None:
    import ray  # after RAY_AUTH_MODE is set: Ray reads it once per process

    def imported_from() -> str:  # local: Ray ships the function itself, not a name in this module
        import spoiler_assets

        return str(spoiler_assets.__file__)

    package_file = ray.remote(imported_from)

    ray.init(include_dashboard=False)  # a job without our runtime env: the cluster lacks the package
    try:
        with pytest.raises(ray.exceptions.RayTaskError, match="No module named 'spoiler_assets'"):
            ray.get(package_file.remote())
    finally:
        ray.shutdown()
    with ray_session():
        shipped = Path(ray.get(package_file.remote()))

    assert "runtime_resources" in shipped.parts and "py_modules_files" in shipped.parts
    assert not shipped.is_relative_to(PACKAGE_DIR.parent)  # not the checkout


@pytest.mark.slow
@pytest.mark.integration
def test_review_embeddings_run_on_the_cluster_at_ray_address(
    at_cluster: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    texts = [f"Review {i}: the twist is that the narrator was dead. " * (1 + i % 5) for i in range(24)]
    cleaned = pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(24)],
            "review_text": texts,
            "review_date": pd.to_datetime([f"2016-0{1 + i % 2}-1{i % 9}" for i in range(24)]),
        }
    )
    config = EmbeddingConfig(max_seq_length=64, runner="ray", ray_batch_size=4)
    asset = build_review_embeddings(MONTHS)
    resources = {
        "embedding_cache": EmbeddingCacheResource(base_uri=str(tmp_path / "cache")),
        "review_source": ReviewSourceResource(base_uri=str(tmp_path)),
    }
    context = dg.build_asset_context(partition_key_range=dg.PartitionKeyRange("2016-01-01", "2016-02-01"))

    output = asset(context=context, config=config, cleaned_reviews=cleaned, **resources)

    assert output.metadata["ran_on"].value.startswith("Ray Data: 2 actors x 1 CPU")
    assert "embedded 24/24 reviews" in capfd.readouterr().err  # progress, in the run log
    parts = output.value
    spec = parts["2016-01-01"].encoder
    for month, part in parts.items():
        rows = cleaned[cleaned["review_id"].isin(part.review_ids)].set_index("review_id").loc[part.review_ids]
        cosine = (part.vectors * encode(rows["review_text"].tolist(), spec)).sum(axis=1)
        assert len(part) == 12 and cosine.min() >= 0.9999, month
