"""Feast's S3 registry store, pointed at any S3-compatible endpoint (MinIO, moto).

Feast's own `S3RegistryStore` takes its endpoint only from the FEAST_S3_ENDPOINT_URL
environment variable, and only `settings.py` reads the environment here. The endpoint
travels instead in the registry config's `s3_additional_kwargs` under
`ENDPOINT_KEY`; this class takes it out before the remaining arguments reach boto3.
"""

from __future__ import annotations

from pathlib import Path

import boto3
from feast.infra.registry.s3 import S3RegistryStore
from feast.repo_config import RegistryConfig

ENDPOINT_KEY = "spoiler_endpoint_url"
CLASS_PATH = f"{__name__}.EndpointS3RegistryStore"


class EndpointS3RegistryStore(S3RegistryStore):
    def __init__(self, registry_config: RegistryConfig, repo_path: Path) -> None:
        extra = dict(registry_config.s3_additional_kwargs or {})
        endpoint = extra.pop(ENDPOINT_KEY, None)
        super().__init__(registry_config.model_copy(update={"s3_additional_kwargs": extra}), repo_path)
        self.s3_client = boto3.resource("s3", endpoint_url=endpoint)
