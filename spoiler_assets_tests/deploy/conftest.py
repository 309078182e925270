"""A throw-away PostgreSQL (Debian's binaries) for the deployment tests that need one."""

import contextlib
import os
import pwd
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spoiler_assets_tests.servers import free_port

# The superuser initdb creates; the stack's role has the same name (POSTGRES_USER).
ROLE = "spoiler"


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is missing: CI must install it (apt-get install postgresql)")
        pytest.skip("PostgreSQL not installed (apt-get install postgresql)")
    return found[-1].parent


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: drop to the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    """A throw-away server on 127.0.0.1 (trust auth); yields the libpq environment."""
    pg_bin = _pg_bin()
    with tempfile.TemporaryDirectory(prefix="spoiler-pg-") as scratch:
        data, log_path = Path(scratch) / "data", Path(scratch) / "postgres.log"
        data.mkdir()
        if os.geteuid() == 0:
            os.chmod(scratch, 0o755)  # the postgres user must reach its data folder
            user = pwd.getpwnam("postgres")
            os.chown(data, user.pw_uid, user.pw_gid)
        subprocess.run(
            [*_as_postgres(), str(pg_bin / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust"],
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = [str(pg_bin / "postgres"), "-D", str(data), "-p", str(port)]
        options = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [*_as_postgres(), *server, *options], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            env = {"PATH": f"{pg_bin}:/usr/bin:/bin", "PGHOST": "127.0.0.1", "PGPORT": str(port)}
            deadline = time.monotonic() + 60
            while subprocess.run([str(pg_bin / "pg_isready"), "-q"], env=env, check=False).returncode:
                assert process.poll() is None, f"postgres exited: {log_path.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "postgres not ready after 60 s"
                time.sleep(0.2)
            yield env
        finally:
            process.send_signal(signal.SIGINT)  # fast shutdown
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def psql(env: dict[str, str], database: str, query: str) -> list[list[str]]:
    """Rows of a query, as the role above, fields split on '|'."""
    out = subprocess.run(
        ["psql", "-U", ROLE, "-d", database, "-tAF", "|", "-c", query],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line]


def run_init_script(env: dict[str, str], script: Path) -> subprocess.CompletedProcess[str]:
    """deploy/postgres/init-databases.sh with the stack's database names."""
    script_env = {**env, "POSTGRES_USER": ROLE, "DAGSTER_PG_DB": "dagster", "MLFLOW_PG_DB": "mlflow"}
    return subprocess.run(["bash", str(script)], env=script_env, capture_output=True, text=True, check=False)
