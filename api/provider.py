"""Where the served model comes from: the MLflow registry's champion, behind a protocol."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import mlflow.artifacts
import mlflow.pyfunc
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)

from api.errors import NoChampionError
from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets.models.hybrid import FeatureStoreClassifier
from spoiler_assets.models.pyfunc import SpoilerPyfunc

# What the registry answers for an unknown registered model (RESOURCE_DOES_NOT_EXIST)
# and, in the SQL store, for an unknown alias (INVALID_PARAMETER_VALUE).
_MISSING_CODES = frozenset(ErrorCode.Name(c) for c in (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE))


@dataclass(frozen=True)
class ServedModel:
    """A loaded classifier and where it came from in the registry."""

    classifier: SpoilerClassifier
    model_name: str
    model_version: str
    run_id: str | None
    loaded_at: datetime


class ModelProvider(Protocol):
    """Loads the model to serve; the app calls it at start-up and on reload."""

    def load(self) -> ServedModel:
        """Return the current model, or raise `NoChampionError` saying why there is none."""
        ...


class MlflowChampionProvider:
    """Serves the registered model version that carries `alias` (default "champion")."""

    def __init__(
        self,
        tracking_uri: str,
        model_name: str,
        alias: str = "champion",
        feature_store: FeatureStoreSpec | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias
        # Feature-store models read the serving environment's store, not the one they
        # were trained beside.
        self.feature_store = feature_store

    def load(self) -> ServedModel:
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        version = self._resolve(client)
        # Download the resolved version's own artifacts rather than `models:/name@alias`:
        # a promotion meanwhile cannot pair one version's metadata with another's
        # weights, and MLflow resolves `models:/` URIs through the process-wide tracking
        # URI, which the API never sets.
        source = client.get_model_version_download_uri(self.model_name, version.version)
        with tempfile.TemporaryDirectory(prefix="spoiler-champion-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=tmp, tracking_uri=self.tracking_uri
            )
            python_model = mlflow.pyfunc.load_model(local).unwrap_python_model()
        if not isinstance(python_model, SpoilerPyfunc):
            raise NoChampionError(
                f"'{self.model_name}' version {version.version} is a "
                f"{type(python_model).__name__}, not a SpoilerPyfunc: register a spoiler model"
            )
        if self.feature_store is not None and isinstance(python_model.classifier, FeatureStoreClassifier):
            python_model.classifier.bind_feature_store(self.feature_store)
        return ServedModel(
            classifier=python_model.classifier,
            model_name=self.model_name,
            model_version=str(version.version),
            run_id=version.run_id or None,
            loaded_at=datetime.now(UTC),
        )

    def _resolve(self, client: MlflowClient) -> ModelVersion:
        try:
            return client.get_model_version_by_alias(self.model_name, self.alias)
        except MlflowException as exc:
            if exc.error_code not in _MISSING_CODES:
                raise
            raise NoChampionError(
                f"no model registered as '{self.model_name}@{self.alias}' yet: "
                f"materialize champion_model ({exc.message})"
            ) from exc
