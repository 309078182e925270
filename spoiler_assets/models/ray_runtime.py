"""The one way this package starts or joins Ray: in-process, or the cluster at RAY_ADDRESS.

On a cluster this package travels with the job (Ray's runtime environment, `py_modules`):
a fresh cluster whose workers have only the third-party libraries installed runs our
tasks, actors and training loops, and every job runs the driver's code, not whatever
version a worker image happens to hold.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# Never shipped: bytecode caches (each worker compiles its own) and editor/tool caches.
_SHIP_EXCLUDES = ["__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache"]


def runtime_env(cluster: bool) -> dict[str, Any]:
    """Ray's runtime environment for this package: quiet workers everywhere, and on a
    cluster the package itself (an in-process Ray's workers import it from this checkout)."""
    env: dict[str, Any] = {"worker_process_setup_hook": _quiet_cleaner_warnings}
    if cluster:
        env |= {"py_modules": [str(PACKAGE_DIR)], "excludes": _SHIP_EXCLUDES}
    return env


@contextlib.contextmanager
def ray_session() -> Iterator[None]:
    """Ray as it is: a cluster when RAY_ADDRESS is set (Ray reads it; this package is
    shipped to its workers), else started in this process with this machine's CPUs; shut
    down (disconnected) again afterwards. A Ray already initialised is used as it is."""
    import ray

    if ray.is_initialized():
        yield
        return
    ray.init(
        include_dashboard=False,
        ignore_reinit_error=True,
        runtime_env=runtime_env(cluster=bool(os.environ.get("RAY_ADDRESS"))),
    )
    try:
        yield
    finally:
        ray.shutdown()


def _quiet_cleaner_warnings() -> None:
    """In every Ray worker: Ray Train's placement-group cleaner asks the State API (served
    by the dashboard) every few seconds whether the controller lives, and warns each time
    it cannot. Without a dashboard, as in-process here, that is dozens of false warnings
    per run; its real warnings (a dead controller) are errors-or-nothing for us."""
    import logging

    cleaner = "ray.train.v2._internal.execution.controller.placement_group_cleaner"
    logging.getLogger(cleaner).setLevel(logging.ERROR)
