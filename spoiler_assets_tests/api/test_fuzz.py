"""Schemathesis against the live API (a uvicorn process): every operation, every check.

The app serves the keyword fakes, so each answer comes from the HTTP layer, validation
and error mapping, which is what the fuzzer probes: no input may produce a 5xx, and
every status code must be one the OpenAPI schema documents.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spoiler_assets_tests.api.live_app import LIVE_ADMIN_TOKEN, running_api

# A couple of minutes on two busy cores: a real server, over a thousand requests.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIN_CASES = 1_000
EXAMPLES_PER_OPERATION = 450


def test_fuzzing_finds_no_server_error_and_no_undocumented_status(tmp_path: Path) -> None:
    with running_api("spoiler_assets_tests.api.live_app:keyword_app") as base:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{base}/schema/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(EXAMPLES_PER_OPERATION),
                "--seed",
                "20261130",
                "--continue-on-failure",
                "--generation-database",
                "none",
                # With the token, admin routes are exercised too; `ignored_auth` (in
                # "all") also sends requests without it and expects a refusal.
                "--header",
                f"Authorization: Bearer {LIVE_ADMIN_TOKEN}",
                "--report",
                "json",
                "--report-dir",
                str(tmp_path),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    [report_path] = tmp_path.glob("*.json")
    report = json.loads(report_path.read_text())
    summary = run.stdout[-4000:]
    print(
        f"\nschemathesis --checks all: {report['test_cases']['generated']} cases on"
        f" {report['operations']['tested']} operations, {len(report['failures'])} failures"
    )

    assert report["operations"]["tested"] == report["operations"]["total"] >= 6, summary
    assert report["test_cases"]["generated"] >= MIN_CASES, summary
    assert report["failures"] == [] and report["errors"] == [], summary
    assert run.returncode == 0, summary
