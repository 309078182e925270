"""The package as `pip install .` makes it: declared dependencies, importable definitions."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spoiler_assets", "api")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """A module the package imports must come from a distribution pyproject.toml names
    (the lock pins versions; pyproject decides what `pip install .` pulls in)."""
    owners = packages_distributions()
    declared = _declared()
    missing = {}
    for module in _imported_top_level_modules() - set(PACKAGES) - set(sys.stdlib_module_names):
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        if not dists:
            missing[module] = "no installed distribution provides it"
        elif not dists & declared:
            missing[module] = f"provided by {sorted(dists)}, not declared"
    assert not missing, f"imports not covered by [project.dependencies]: {missing}"


@pytest.mark.slow
def test_the_built_wheel_loads_the_definitions_without_the_checkout(tmp_path: Path) -> None:
    """Build the wheel, install it (dependencies from this environment, which the lock
    built) into a folder, and load the definitions from there with the checkout off the
    path: the wheel must carry every module the code location imports."""
    wheels, site, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # Built from a copy: setuptools leaves build/ and *.egg-info in the tree it builds.
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=skip)
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("spoiler_shield-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    probe = (
        "import dagster as dg, spoiler_assets, api.app\n"
        "from spoiler_assets.definitions import build_definitions\n"
        "from spoiler_assets.settings import Settings\n"
        f"assert spoiler_assets.__file__.startswith({str(site)!r}), spoiler_assets.__file__\n"
        f"defs = build_definitions(Settings.from_env({{'SPOILER_DATA_DIR': {str(tmp_path / 'data')!r}}}))\n"
        "dg.Definitions.validate_loadable(defs)\n"
        "print(len(list(defs.resolve_asset_graph().get_all_asset_keys())))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "DAGSTER_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert int(result.stdout.split()[-1]) > 10
