"""The API as a real uvicorn process (`running_api`), and a factory serving fake models:

    uvicorn --factory spoiler_assets_tests.api.live_app:keyword_app

The keyword fakes (review and sentence scores) answer in microseconds, so a fuzz run
spends its time on the HTTP layer, and every route, sentences included, can answer 200.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from litestar import Litestar

from api.app import create_app
from spoiler_assets_tests.api.fake_models import KeywordClassifier
from spoiler_assets_tests.api.shield_fakes import KeywordSentenceScorer, PairProvider, served_pair
from spoiler_assets_tests.servers import answers_ok, free_port, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]

LIVE_ADMIN_TOKEN = "live-test-admin-token"


def keyword_app() -> Litestar:
    provider = PairProvider(served_pair(KeywordClassifier(), KeywordSentenceScorer(), version="1"))
    return create_app(provider, admin_token=LIVE_ADMIN_TOKEN)


@contextmanager
def running_api(
    factory: str, env: Mapping[str, str] | None = None, ready_path: str = "/health", timeout_s: float = 240
) -> Iterator[str]:
    """`uvicorn --factory <factory>` as a real process on a free port; yields its base URL
    once `ready_path` answers 200, and stops the process (SIGINT, then SIGKILL) after."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [*command, "--log-level", "warning"],
            cwd=ROOT,
            env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            wait_until_ready(
                lambda: answers_ok(f"{base}{ready_path}"),
                "the API",
                timeout_s=timeout_s,
                process=server,
                log=output,
            )
            yield base
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
