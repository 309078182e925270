"""The deployment files under deploy/ as the static tests read them, and the environment
variables the code reads, found in its source (so that a new variable is seen at once)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / ".env.example"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
SETTINGS_MODULE = REPO_ROOT / "spoiler_assets" / "settings.py"
API_PACKAGE = REPO_ROOT / "api"

# `NAME=value` or, for a derived value, `# NAME=value` (documented, not set).
_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
# An environment variable's name as docstrings write it: upper case with an underscore.
_VARIABLE_NAME = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b")
# `${NAME`, not `$${NAME` (compose's escape for the container's own shell).
_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class EnvEntry:
    """One variable of deploy/.env.example."""

    name: str
    value: str
    commented_out: bool  # a derived value: documented, set by compose or the stack
    comment: str  # the comment block right above it


def env_example() -> dict[str, EnvEntry]:
    """The variables of deploy/.env.example with the comment block above each."""
    entries: dict[str, EnvEntry] = {}
    comment: list[str] = []
    after_assignment = False
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        match = _ASSIGNMENT.match(line)
        if match:
            commented, name, value = match.groups()
            assert name not in entries, f"{name} appears twice in {ENV_EXAMPLE.name}"
            # A comment block documents the run of assignments right below it.
            entries[name] = EnvEntry(name, value, commented is not None, " ".join(comment))
            after_assignment = True
        elif line.startswith("#"):
            if after_assignment:
                comment, after_assignment = [], False
            comment.append(line.lstrip("# "))
        else:
            comment, after_assignment = [], False
    return entries


def env_example_values() -> dict[str, str]:
    """What a shell or compose would set from the file (commented-out lines are not set)."""
    return {e.name: e.value for e in env_example().values() if not e.commented_out}


def variables_read_in(path: Path) -> set[str]:
    """Names of environment variables a module reads: `env.get("X")`, `environ["X"]`,
    `os.getenv("X")` and the like (any receiver whose name contains "env")."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in {"get", "getenv", "pop", "setdefault"}
                and ("env" in ast.unparse(func.value).lower() or func.attr == "getenv")
            ):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and "env" in ast.unparse(node.value).lower():
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isupper():
            found.add(key.value)
    return found


def settings_variables() -> set[str]:
    """Every variable `Settings.from_env` reads or documents (source and docstring)."""
    from spoiler_assets.settings import Settings

    documented = set(_VARIABLE_NAME.findall(Settings.from_env.__doc__ or ""))
    return variables_read_in(SETTINGS_MODULE) | documented


def api_variables() -> set[str]:
    """Variables the API modules read themselves (besides `Settings.from_env`)."""
    found: set[str] = set()
    for path in sorted(API_PACKAGE.glob("*.py")):
        found |= variables_read_in(path)
    return found


def api_routes() -> dict[str, str]:
    """Route handler name -> path, from the decorators in api/app.py (`@get("/health")`),
    read from the source: importing the app would load the whole model stack."""
    routes: dict[str, str] = {}
    for node in ast.parse((API_PACKAGE / "app.py").read_text()).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and decorator.args:
                path = decorator.args[0]
                if isinstance(path, ast.Constant) and isinstance(path.value, str):
                    routes[node.name] = path.value
    return routes


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def compose_interpolated_variables() -> set[str]:
    """Variables compose substitutes from deploy/.env (`${NAME...}`)."""
    return set(_INTERPOLATION.findall(COMPOSE.read_text()))


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under deploy/k8s (not the Helm values, not kustomization)."""
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name in {"kustomization.yaml", "dagster-values.yaml"}:
            continue
        docs.extend((path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def image_repository(image: str) -> str:
    """`registry/x/spoiler-shield:1.0` -> `spoiler-shield` (the name without registry or tag)."""
    name = image.rsplit("/", 1)[-1]
    return name.split("@", 1)[0].split(":", 1)[0]
