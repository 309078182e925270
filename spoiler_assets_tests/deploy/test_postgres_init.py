"""deploy/postgres/init-databases.sh against a real PostgreSQL (Debian's binaries): it
creates the Dagster and MLflow databases owned by the stack's role, and a second run
changes nothing (compose runs it on an empty volume; operators may run it again)."""

import pytest

from spoiler_assets_tests.deploy.conftest import ROLE, psql, run_init_script
from spoiler_assets_tests.deploy.files import DEPLOY

pytestmark = pytest.mark.integration

SCRIPT = DEPLOY / "postgres" / "init-databases.sh"


def test_creates_both_databases_once(postgres: dict[str, str]) -> None:
    first = run_init_script(postgres, SCRIPT)
    second = run_init_script(postgres, SCRIPT)

    assert first.returncode == 0, first.stderr
    assert "created dagster" in first.stdout and "created mlflow" in first.stdout
    assert second.returncode == 0 and "created" not in second.stdout, second.stdout + second.stderr
    owners = dict(psql(postgres, "postgres", "SELECT datname, pg_get_userbyid(datdba) FROM pg_database"))
    assert owners["dagster"] == ROLE and owners["mlflow"] == ROLE
