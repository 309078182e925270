"""deploy/docker/Dockerfile and the CI workflow, read without Docker: the image installs
what scripts/bootstrap.sh installs, runs as a non-root user, copies only what the build
context lets through, and CI runs the suite and builds the image."""

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from spoiler_assets_tests.deploy.files import DEPLOY, DOCKERFILE, REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last matching pattern decides ('!' re-includes)."""
    allowed = True
    for raw in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negated
    return allowed


def test_multi_stage_build_with_a_runtime_stage_last() -> None:
    stages = _stages()
    assert len(stages) >= 2
    assert stages[-1][0][1].endswith("AS runtime")
    assert any(i == "COPY" and args.startswith("--from=build") for i, args in stages[-1])


def test_dependencies_install_like_bootstrap() -> None:
    runs = " ".join(args for i, args in _instructions() if i == "RUN")
    bootstrap = (REPO_ROOT / "scripts" / "bootstrap.sh").read_text()
    assert "torch==" in bootstrap and "-c requirements/lock.txt" in bootstrap
    # torch first, its version read from base.in (never a second copy of the pin) ...
    assert "grep -E '^torch==' /tmp/requirements/base.in" in runs
    assert '--index-url "$TORCH_INDEX_URL" "$torch_pin"' in runs
    # ... then the project's requirements with the lock as constraints; no test tools.
    assert "-r /tmp/requirements/base.in -c /tmp/requirements/lock.txt" in runs
    assert "dev.in" not in runs
    base = (REPO_ROOT / "requirements" / "base.in").read_text()
    assert re.search(r"^torch==\S+$", base, re.MULTILINE), "base.in must pin torch"


def test_cuda_is_a_build_argument_with_cpu_default() -> None:
    args = [a for i, a in _instructions() if i == "ARG" and a.startswith("TORCH_INDEX_URL=")]
    assert args == ["TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"]


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [a for i, a in _stages()[-1] if i == "USER"]
    assert users, "no USER in the runtime stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users[-1]


def test_copied_files_exist_and_pass_the_dockerignore() -> None:
    copies = [a for i, a in _instructions() if i == "COPY" and not a.startswith("--from")]
    sources = []
    for args in copies:
        parts = [p for p in args.split() if not p.startswith("--")]
        sources += parts[:-1]
    assert "spoiler_assets/" in sources and "requirements/" in sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"COPY source missing: {source}"
        assert _dockerignore_allows(source.rstrip("/")), f".dockerignore excludes {source}"
    # Local state never enters the context.
    for state in (".spoiler_data", ".stack", ".venv", "deploy/.env", ".git"):
        assert not _dockerignore_allows(state), state


def test_image_carries_the_instance_and_workspace_files() -> None:
    copies = " ".join(a for i, a in _instructions() if i == "COPY")
    assert "deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml" in copies
    assert "deploy/workspace.yaml /opt/dagster/workspace.yaml" in copies
    env = " ".join(a for i, a in _instructions() if i == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env


@pytest.mark.parametrize(
    "script", [DEPLOY / "docker" / "entrypoint.sh", DEPLOY / "postgres" / "init-databases.sh"]
)
def test_scripts_are_executable_bash(script: Path) -> None:
    assert script.stat().st_mode & 0o111, f"{script.name} is not executable"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_entrypoint_only_joins_ray_when_asked(tmp_path: Path) -> None:
    # Without RAY_JOIN_CLUSTER the entry point just runs its command (no `ray` needed).
    result = subprocess.run(
        ["bash", str(DEPLOY / "docker" / "entrypoint.sh"), "echo", "ran"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ran"), result.stderr
    asked = subprocess.run(
        ["bash", str(DEPLOY / "docker" / "entrypoint.sh"), "echo", "ran"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "RAY_JOIN_CLUSTER": "1"},
        check=False,
    )
    assert asked.returncode != 0 and "RAY_ADDRESS" in asked.stderr


def test_ci_runs_the_suite_and_builds_the_image() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs = workflow["jobs"]
    test_steps = " ".join(str(step.get("run", "")) for step in jobs["test"]["steps"])
    assert ".ci/run" in test_steps
    assert "3.11" in str(jobs["test"].get("container", "")) or any(
        step.get("with", {}).get("python-version") == "3.11" for step in jobs["test"]["steps"]
    )
    image_steps = " ".join(str(step.get("run", "")) for step in jobs["image"]["steps"])
    assert "docker build -f deploy/docker/Dockerfile ." in image_steps.replace(" -t spoiler-shield:ci", "")
    assert (REPO_ROOT / ".ci" / "run").exists()
