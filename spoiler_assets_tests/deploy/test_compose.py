"""deploy/compose.yaml, checked without Docker: every service runs something, reports its
health and starts after what it needs; the Spoiler Shield services get the settings the
code reads and run modules that exist."""

import ast
import importlib.util
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import pytest

from spoiler_assets_tests.deploy.files import (
    COMPOSE,
    DEPLOY,
    DOCKERFILE,
    REPO_ROOT,
    api_variables,
    compose,
    settings_variables,
)

CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# The services the issue asks for, by role.
EXPECTED = {
    "postgres",
    "minio",
    "minio-init",
    "redis",
    "mlflow",
    "ray-head",
    "ray-worker",
    "ray-gpu-worker",
    "code-server",
    "webserver",
    "daemon",
    "api",
}


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    depends = service.get("depends_on", {})
    assert isinstance(depends, dict), "depends_on in the long form, with a condition per service"
    return depends


def _one_shots() -> set[str]:
    """Services that others wait for to finish (bucket creation and the like)."""
    return {
        name
        for service in _services().values()
        for name, dep in _depends_on(service).items()
        if dep.get("condition") == "service_completed_successfully"
    }


def _command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_the_stack_has_every_service() -> None:
    assert set(_services()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_service_has_an_image_or_a_build(name: str) -> None:
    service = _services()[name]
    assert service.get("image") or service.get("build"), f"{name}: neither image nor build"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_long_running_service_has_a_healthcheck(name: str) -> None:
    service = _services()[name]
    if name in _one_shots():
        # A one-shot job has no health to report: it must not restart, and everything that
        # needs it waits for it to exit 0 (checked in test_dependencies_wait_for_health).
        assert service.get("restart") == "no", f"{name}: a one-shot service must not restart"
        return
    healthcheck = service.get("healthcheck")
    assert healthcheck and not healthcheck.get("disable"), f"{name}: no healthcheck"
    test = healthcheck["test"]
    assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, test


def test_dependencies_exist_and_wait_for_health() -> None:
    services = _services()
    one_shots = _one_shots()
    for name, service in services.items():
        for dep, spec in _depends_on(service).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            expected = "service_completed_successfully" if dep in one_shots else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {dep}: condition {spec.get('condition')}"


def test_start_order_has_no_cycle() -> None:
    graph = {name: set(_depends_on(service)) for name, service in _services().items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"depends_on cycle: {error.args[1]}")
    assert order.index("postgres") < order.index("code-server") < order.index("webserver")


def test_services_start_in_the_documented_order() -> None:
    services = _services()
    assert {"postgres", "minio-init", "redis", "mlflow", "ray-head"} <= set(
        _depends_on(services["code-server"])
    )
    assert {"code-server", "postgres"} <= set(_depends_on(services["webserver"]))
    assert {"code-server", "postgres"} <= set(_depends_on(services["daemon"]))
    assert {"mlflow", "redis"} <= set(_depends_on(services["api"]))


def test_named_volumes_are_declared_and_hold_the_data() -> None:
    declared = set(compose().get("volumes", {}))
    used = set()
    for service in _services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (DEPLOY / source).exists(), f"bind-mounted file missing: {source}"
    assert used == declared
    services = _services()
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert any(v.endswith(":/data") for v in services["minio"]["volumes"])


def test_published_ports_listen_on_loopback_only() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_spoiler_services_are_built_from_the_dockerfile() -> None:
    for name, service in _services().items():
        build = service.get("build")
        if build is None:
            continue
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == REPO_ROOT, f"{name}: build context {context}"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE


def test_gpu_profile_reserves_nvidia_devices() -> None:
    gpu = _services()["ray-gpu-worker"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    # Every other service runs without the profile.
    assert [n for n, s in _services().items() if s.get("profiles")] == ["ray-gpu-worker"]


@pytest.mark.parametrize("name", ["code-server", "ray-head", "ray-worker", "api"])
def test_code_services_receive_every_setting(name: str) -> None:
    environment = set(_services()[name]["environment"])
    # SPOILER_DATA_DIR is the image's own (a folder inside the container).
    needed = (settings_variables() | api_variables()) - {"SPOILER_DATA_DIR"}
    if name != "api":
        needed.discard("SPOILER_ADMIN_TOKEN")
    missing = sorted(needed - environment)
    assert not missing, f"{name} does not pass on {missing}"


def test_dagster_services_share_the_instance_settings() -> None:
    services = _services()
    keys = {"DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"}
    for name in ("code-server", "webserver", "daemon"):
        assert keys <= set(services[name]["environment"]), name
    assert services["code-server"]["environment"]["RAY_JOIN_CLUSTER"] == "1"


def test_commands_run_modules_that_exist() -> None:
    services = _services()
    code = _command_text(services["code-server"])
    module = re.search(r"-m (\S+)", code)
    assert module and importlib.util.find_spec(module.group(1)) is not None, code
    api = _command_text(services["api"])
    factory = re.search(r"--factory (\S+):(\w+)", api)
    assert factory, api
    spec = importlib.util.find_spec(factory.group(1))
    assert spec and spec.origin, factory.group(1)
    functions = {
        n.name for n in ast.parse(Path(spec.origin).read_text()).body if isinstance(n, ast.FunctionDef)
    }
    assert factory.group(2) in functions, f"{factory.group(1)} defines no {factory.group(2)}()"
    for name in ("webserver", "daemon"):
        assert "/opt/dagster/workspace.yaml" in _command_text(services[name])


def test_ray_nodes_and_drivers_share_the_auth_token() -> None:
    services = _services()
    ray_users = ["ray-head", "ray-worker", "ray-gpu-worker", "code-server"]
    tokens = {services[name]["environment"].get("RAY_AUTH_TOKEN") for name in ray_users}
    modes = {services[name]["environment"].get("RAY_AUTH_MODE") for name in ray_users}
    assert len(tokens) == 1 and None not in tokens, tokens
    assert modes == {"${RAY_AUTH_MODE:-token}"}
    # Only Ray's users hold the token.
    assert "RAY_AUTH_TOKEN" not in services["api"]["environment"]


def test_postgres_urls_name_the_installed_driver() -> None:
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which the lock does not ship.
    text = COMPOSE.read_text()
    assert "postgresql://" not in text
    assert "postgresql+psycopg2://" in _command_text(_services()["mlflow"])
