"""A real Dagster instance on the embedded default: `dagster dev` (webserver and daemon)
in its own process group, the landing sensor ticking on its own, and the asset graph
rendered by headless Chromium. SYNTHETIC data throughout."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.tags import PARTITION_NAME_TAG, SENSOR_NAME_TAG

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets_tests.helpers import BASELINE_ONLY, corpus_settings, run_champion_job
from spoiler_assets_tests.servers import free_port, wait_until_ready

# The champion lineage, `dagster dev` start-up and a sensor run with a process per step
# take minutes on a small shared machine: more than the suite's default timeout.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO_ROOT / "test-output" / "asset_graph.png"
CHROMIUM = Path("/usr/bin/chromium")
# The UI's global asset lineage page in Dagster 1.13. Its groups start collapsed; the
# `expanded` parameter opens them by id ("global@global:<group>").
ASSET_GRAPH_PATH = "/asset-groups"
LANDED_MONTH = "2017-01-01"
# Telemetry off (no network from tests); nux off: no first-visit prompts in the UI.
DAGSTER_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
_LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
_GROUPS_QUERY = "{ assetNodes { groupName } }"


@dataclass(frozen=True)
class DagsterDev:
    """A running `dagster dev` and the instance it shares with the test."""

    url: str
    instance: dg.DagsterInstance
    log: Path

    def graphql(self, query: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["data"]

    def log_tail(self, chars: int = 6000) -> str:
        return f"--- dagster dev log ({self.log}) ---\n{self.log.read_text(errors='replace')[-chars:]}"


@pytest.fixture(scope="module")
def dagster_dev(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """`dagster dev` on a fresh DAGSTER_HOME, the champion lineage materialized into the
    same instance meanwhile, then one month landed. Stopped, children included, at the end."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    # The champion only has to exist (landing_job scores with it): the baseline alone does.
    settings = corpus_settings(
        tmp_path_factory.mktemp("data"),
        tiny_corpus,
        "2016-01",
        "2017-03",
        models=BASELINE_ONLY,
        SPOILER_SENSOR_INTERVAL_S="5",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOILER_", "DAGSTER_"))}
    for name in ("REDIS_URL", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    env.update(
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(REPO_ROOT),
        SPOILER_DATA_DIR=str(settings.data_dir),
        SPOILER_SOURCE=settings.source_uri,
        SPOILER_FIRST_MONTH=settings.first_month,
        SPOILER_LAST_MONTH=settings.last_month or "",
        SPOILER_LANDING_URI=settings.landing_uri,
        SPOILER_SENSOR_INTERVAL_S=str(settings.sensor_interval_s),
        SPOILER_MODELS=",".join(settings.models),
        MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
    )
    port = free_port()
    log = home / "dagster_dev.log"
    process = _start_dagster_dev(port, env, log)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            # landing_job scores with the champion, so there must be one before a month
            # lands; it is trained here while `dagster dev` starts up.
            assert run_champion_job(settings, instance=instance).success
            dev = DagsterDev(f"http://127.0.0.1:{port}", instance, log)
            _wait_for_code_location(dev, process, timeout_s=180)
            _land_month(Path(settings.landing_uri), tmp_path_factory.mktemp("landed"))
            yield dev
    finally:
        _stop(process)


# First, so that the page is rendered while the sensor's run is under way.
def test_asset_graph_shows_lineage_from_raw_reviews_to_champion_model(
    dagster_dev: DagsterDev, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install it (apt-get install chromium, see .ci/run)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium): asset graph not rendered")
    groups = sorted({node["groupName"] for node in dagster_dev.graphql(_GROUPS_QUERY)["assetNodes"]})
    expanded = ",".join(f"global@global:{group}" for group in groups)
    url = f"{dagster_dev.url}{ASSET_GRAPH_PATH}?{urllib.parse.urlencode({'expanded': expanded})}"
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)

    dom = _chromium(url, tmp_path, f"--screenshot={SCREENSHOT}", "--dump-dom")

    assert SCREENSHOT.stat().st_size > 50_000, "screenshot missing or blank"
    # Asset nodes drawn in the graph, not merely names in the sidebar.
    drawn = set(re.findall(r'class="AssetNode_assetName[^"]*"[^>]*>([a-z_]+)<', dom))
    assert {"raw_reviews", "cleaned_reviews", "review_split", "champion_model"} <= drawn, (
        f"lineage not drawn at {url}; asset nodes found: {sorted(drawn)}"
    )


def test_landing_sensor_run_succeeds_and_materializes_the_month(dagster_dev: DagsterDev) -> None:
    run = _wait_for_sensor_run(dagster_dev, timeout_s=600)

    assert run.status == dg.DagsterRunStatus.SUCCESS, dagster_dev.log_tail()
    assert run.tags.get(PARTITION_NAME_TAG) == LANDED_MONTH
    for asset in ("raw_reviews", "batch_predictions", "drift_report"):
        records = dagster_dev.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[LANDED_MONTH]), limit=5
        ).records
        assert run.run_id in {r.run_id for r in records}, f"{asset} {LANDED_MONTH} not materialized by it"


def _start_dagster_dev(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`dagster dev` in a session of its own: the webserver, daemon, code servers and run
    workers share its process group, so the whole group can be stopped at the end."""
    # A shell that started the suite in the background leaves SIGINT ignored, and Dagster
    # maps SIGTERM to the SIGINT handler: with a handler here the child starts with the
    # default one and can shut its services down cleanly when asked.
    command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p"]
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with log.open("w") as out:
            return subprocess.Popen(
                [*command, str(port)],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for_code_location(dev: DagsterDev, process: subprocess.Popen, timeout_s: float) -> None:
    """Until the webserver answers and the code location has loaded (fails fast on a load error)."""

    def loaded() -> bool:
        entries = dev.graphql(_LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
        for entry in entries:
            location = entry["locationOrLoadError"]
            if location and location["__typename"] == "PythonError":
                pytest.fail(f"code location {entry['name']} failed to load: {location['message']}")
        return bool(entries) and all(
            e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries
        )

    wait_until_ready(
        loaded, "dagster dev", timeout_s=timeout_s, interval_s=1, process=process, log=dev.log_tail
    )


def _land_month(landing: Path, scratch: Path) -> None:
    """A month of new reviews, renamed into place so that the sensor never reads half a file."""
    month = CorpusSpec(n_reviews=300, n_movies=30, seed=11, first_month="2017-01", last_month="2017-01")
    corpus = generate_corpus(scratch, month)
    landing.mkdir(parents=True, exist_ok=True)
    partial = landing / ".2017-01.json.partial"  # the landing zone does not list dot files
    shutil.copy(corpus.reviews_path, partial)
    partial.rename(landing / "2017-01.json")


def _wait_for_sensor_run(dev: DagsterDev, timeout_s: float) -> dg.DagsterRun:
    """The first landing_job run that the landing sensor launched, once it has finished."""
    deadline = time.monotonic() + timeout_s
    finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    while True:
        runs = dev.instance.get_runs(
            filters=dg.RunsFilter(job_name="landing_job", tags={SENSOR_NAME_TAG: "landing_sensor"})
        )
        if runs and runs[-1].status in finished:
            return runs[-1]
        if time.monotonic() > deadline:
            state = runs[-1].status if runs else "no run launched"
            pytest.fail(f"landing_sensor run not finished after {timeout_s} s ({state})\n{dev.log_tail()}")
        time.sleep(1)


def _chromium(url: str, tmp_path: Path, *commands: str) -> str:
    """Renders `url` in headless Chromium and returns the DOM. Virtual time runs the page
    until the layout has settled (about 5 s of real time); the window is tall enough for
    the whole graph at the UI's fit-to-width zoom."""
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1800,1700",
            "--virtual-time-budget=20000",
            *commands,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"chromium failed ({result.returncode}): {result.stderr[-3000:]}"
    return result.stdout


def _stop(process: subprocess.Popen) -> None:
    """SIGINT lets `dagster dev` stop its services; then nothing of its group survives."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
