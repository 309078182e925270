"""deploy/.env.example: the one settings file of compose and the process stack documents
every variable the code and the deployment files read, and commits no secret."""

from pathlib import Path

import pytest
import yaml

from spoiler_assets.settings import Settings
from spoiler_assets_tests.deploy.files import (
    DEPLOY,
    api_variables,
    compose_interpolated_variables,
    env_example,
    env_example_values,
    settings_variables,
)

SECRET_MARKERS = ("PASSWORD", "SECRET", "TOKEN")


def _dagster_file_variables(path: Path) -> set[str]:
    """Variables a Dagster YAML file reads through `{env: NAME}`."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(path.read_text()))
    return found


def test_source_scan_finds_the_variables_settings_reads() -> None:
    # The scan that the next tests rely on: it must see what from_env reads.
    found = settings_variables()
    assert {"SPOILER_DATA_DIR", "SPOILER_S3_BUCKET", "MLFLOW_TRACKING_URI", "REDIS_URL"} <= found
    assert len(found) >= 15, sorted(found)


def test_every_variable_settings_reads_is_documented() -> None:
    entries = env_example()
    missing = sorted(settings_variables() - entries.keys())
    assert not missing, f"add to deploy/.env.example (with a comment): {missing}"


def test_every_variable_the_api_reads_is_documented() -> None:
    missing = sorted(api_variables() - env_example().keys())
    assert not missing, f"add to deploy/.env.example (with a comment): {missing}"


@pytest.mark.parametrize("name", ["dagster.yaml", "workspace.yaml"])
def test_every_variable_of_the_dagster_files_is_documented(name: str) -> None:
    variables = _dagster_file_variables(DEPLOY / name)
    assert variables, f"deploy/{name} reads no variable: the scan is broken"
    missing = sorted(variables - env_example().keys())
    assert not missing, f"deploy/{name} reads variables deploy/.env.example does not document: {missing}"


def test_every_variable_compose_substitutes_is_documented() -> None:
    missing = sorted(compose_interpolated_variables() - env_example().keys())
    assert not missing, f"deploy/compose.yaml uses variables deploy/.env.example lacks: {missing}"


def test_every_variable_has_a_comment() -> None:
    undocumented = sorted(name for name, entry in env_example().items() if not entry.comment)
    assert not undocumented, f"variables without a comment above them: {undocumented}"


def test_no_secret_is_committed() -> None:
    secrets = {n: e.value for n, e in env_example().items() if any(m in n for m in SECRET_MARKERS)}
    assert "POSTGRES_PASSWORD" in secrets and "AWS_SECRET_ACCESS_KEY" in secrets
    # Allowed: the placeholder, empty (feature off), or another variable (derived lines).
    not_placeholders = {n: v for n, v in secrets.items() if v not in {"change-me", ""} and v[0] != "$"}
    assert not not_placeholders, f"secrets must be 'change-me' placeholders: {not_placeholders}"


def test_values_load_into_settings(tmp_path: Path) -> None:
    # The file is sourced as is by the process stack and passed on by compose: empty values
    # must mean "the default" to Settings, and set values must parse.
    environ = {**env_example_values(), "SPOILER_DATA_DIR": str(tmp_path)}

    settings = Settings.from_env(environ)

    assert settings.s3_bucket == environ["SPOILER_S3_BUCKET"]
    assert settings.model_name == environ["SPOILER_MODEL_NAME"]
    assert settings.uses_default_source, "an empty SPOILER_SOURCE means the synthetic corpus"
    assert settings.last_month is None
    assert settings.landing_uri == f"s3://{settings.s3_bucket}/{settings.s3_prefix}/landing"
    assert settings.sensor_interval_s == int(environ["SPOILER_SENSOR_INTERVAL_S"])
