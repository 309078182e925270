"""Fixtures shared by the suite: sample data locations and real servers on loopback."""

import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb_real_sample"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def real_sample_dir() -> Path:
    """The genuine Kaggle-format rows in ../shared/data (absent on a user's machine)."""
    if not (REAL_SAMPLE / "IMDB_reviews.json").exists():
        pytest.skip(f"real IMDB sample not found at {REAL_SAMPLE} (only the team's checkout has it)")
    return REAL_SAMPLE


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, a real HTTP endpoint on loopback, for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server, with dummy credentials for boto3 and s3fs."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = request.node.name.lower().replace("_", "-")[:50].strip("-")
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name
