"""A digest of a registered model's artifacts, recorded at registration, checked when served.

`champion_model` registers a version and tags it with the SHA-256 of its artifacts
(`DIGEST_TAG`); the API computes the same digest over what it downloaded and refuses a
version whose artifacts changed since (tampered, corrupted, half-copied).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import mlflow.artifacts
from mlflow import MlflowClient

DIGEST_TAG = "artifact_sha256"
_CHUNK = 1 << 20


def directory_digest(folder: Path) -> str:
    """SHA-256 over every file under `folder`: relative path, size and content, in path
    order, so a renamed, added, removed or edited file changes it."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix().encode()
        digest.update(len(relative).to_bytes(8, "big") + relative)
        digest.update(path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def registered_artifacts_digest(tracking_uri: str, model_name: str, version: str) -> str:
    """`directory_digest` of a registered version's artifacts, as a client downloads them."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    source = client.get_model_version_download_uri(model_name, version)
    with tempfile.TemporaryDirectory(prefix="spoiler-digest-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=tmp, tracking_uri=tracking_uri
        )
        return directory_digest(Path(local))
