"""deploy/dagster.yaml and deploy/workspace.yaml against the schemas of the installed
Dagster: the instance config validates, each configurable class (run launcher, run
coordinator, compute logs) builds from it, and the workspace points at the code server.
Values come from deploy/.env.example plus the URLs compose derives from service names."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import WORKSPACE_CONFIG_SCHEMA
from dagster._serdes import ConfigurableClassData

from spoiler_assets_tests.deploy.files import DEPLOY, compose, env_example_values

CONFIGURABLE_SECTIONS = ("run_coordinator", "run_launcher", "compute_logs")


@pytest.fixture
def compose_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the webserver container gets, with compose's defaults applied."""
    environment = dict(env_example_values())
    environment.update(
        DAGSTER_PG_HOST="postgres",
        DAGSTER_PG_PORT="5432",
        DAGSTER_PG_USER=environment["POSTGRES_USER"],
        DAGSTER_PG_PASSWORD=environment["POSTGRES_PASSWORD"],
        DAGSTER_GRPC_HOST="code-server",
        AWS_ENDPOINT_URL="http://minio:9000",
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def _instance_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    return loaded


def test_instance_config_validates(compose_environment: dict[str, str], tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")

    config, _ = dagster_instance_config(str(tmp_path))

    postgres = config["storage"]["postgres"]["postgres_db"]
    assert postgres["hostname"] == {"env": "DAGSTER_PG_HOST"}
    assert postgres["port"] == {"env": "DAGSTER_PG_PORT"}, "the process stack runs Postgres on any port"


@pytest.mark.parametrize("section", CONFIGURABLE_SECTIONS)
def test_configurable_class_builds_from_its_config(section: str, compose_environment: dict[str, str]) -> None:
    spec = _instance_yaml()[section]
    data = ConfigurableClassData(spec["module"], spec["class"], yaml.safe_dump(spec.get("config", {})))

    built = data.rehydrate()

    assert type(built).__name__ == spec["class"]


def test_runs_are_queued_and_monitored() -> None:
    instance = _instance_yaml()
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["telemetry"]["enabled"] is False


def test_compute_logs_go_to_the_stack_bucket(compose_environment: dict[str, str]) -> None:
    spec = _instance_yaml()["compute_logs"]
    data = ConfigurableClassData(spec["module"], spec["class"], yaml.safe_dump(spec["config"]))

    manager: Any = data.rehydrate()

    assert manager._s3_bucket == compose_environment["SPOILER_S3_BUCKET"]
    assert manager._s3_session.meta.endpoint_url == "http://minio:9000"


def test_workspace_loads_the_code_server_compose_runs(compose_environment: dict[str, str]) -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())

    result = process_config(WORKSPACE_CONFIG_SCHEMA, workspace)

    assert result.success, result.errors
    assert result.value is not None
    server = result.value["load_from"][0]["grpc_server"]
    code_server = compose()["services"]["code-server"]
    assert (
        server["host"] == "code-server" and code_server["environment"]["DAGSTER_GRPC_HOST"] == "code-server"
    )
    assert server["port"] == int(compose_environment["DAGSTER_GRPC_PORT"])
    assert server["location_name"] == "spoiler_assets"
    assert "--location-name spoiler_assets" in " ".join(code_server["command"])
