"""On a failed stack test, the last lines of every service's log go into the report."""

from collections.abc import Generator
from pathlib import Path

import pytest

# Set by the `stack` fixture while a stack runs: its folder, whose logs/ the report shows.
RUNNING: dict[str, Path] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    folder = RUNNING.get("dir")
    if report.failed and folder is not None:
        for log in sorted((folder / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-60:]
            report.sections.append((f"stack service log: {log.name} (last 60 lines)", "\n".join(tail)))
    return report
