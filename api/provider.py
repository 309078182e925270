"""Where the served model comes from: the MLflow registry's champion, behind a protocol."""

from __future__ import annotations

import logging
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import mlflow.artifacts
import mlflow.pyfunc
import requests
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)

from api.errors import NoChampionError
from api.sentences import SentenceScorer, load_sentence_model
from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets.models.digest import DIGEST_TAG, directory_digest
from spoiler_assets.models.hybrid import FeatureStoreClassifier
from spoiler_assets.models.pyfunc import SpoilerPyfunc

# What the registry answers for an unknown registered model (RESOURCE_DOES_NOT_EXIST)
# and, in the SQL store, for an unknown alias (INVALID_PARAMETER_VALUE).
_MISSING_CODES = frozenset(ErrorCode.Name(c) for c in (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE))
# MLflow's client retries a refused connection for minutes (MLFLOW_HTTP_REQUEST_MAX_RETRIES):
# one short request first tells "registry down" apart, so a load answers in seconds.
PROBE_TIMEOUT_S = 3.0

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """A loaded classifier and where it came from in the registry."""

    classifier: SpoilerClassifier
    model_name: str
    model_version: str
    run_id: str | None
    loaded_at: datetime
    # SHA-256 of the artifacts, checked against the version's tag; None when the version
    # carries no digest (registered outside `champion_model`).
    artifact_digest: str | None = None
    # The sentence scorer registered beside the champion (`<name>-sentences@champion`)
    # and its version; None until `sentence_model` has been materialized.
    sentence_scorer: SentenceScorer | None = None
    sentence_model_version: str | None = None


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
        where = f"MLflow registry at {_without_credentials(self.tracking_uri)}"
        _probe(self.tracking_uri, where)
        try:
            return self._load()
        except NoChampionError:
            raise
        except (MlflowException, requests.RequestException, OSError) as exc:
            logger.warning("%s failed", where, exc_info=exc)
            raise NoChampionError(f"{where} failed: {type(exc).__name__}: {_first_line(exc)}") from exc

    def _load(self) -> ServedModel:
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        version = self._resolve(client)
        described = f"'{self.model_name}' version {version.version}"
        # Download the resolved version's own artifacts rather than `models:/name@alias`:
        # a promotion meanwhile cannot pair one version's metadata with another's
        # weights, and MLflow resolves `models:/` URIs through the process-wide tracking
        # URI, which the API never sets.
        source = client.get_model_version_download_uri(self.model_name, version.version)
        with tempfile.TemporaryDirectory(prefix="spoiler-champion-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=tmp, tracking_uri=self.tracking_uri
            )
            # Checked before unpickling: a tampered pickle must never be loaded.
            digest = _verify_digest(Path(local), version, described)
            try:
                python_model = mlflow.pyfunc.load_model(local).unwrap_python_model()
            except Exception as exc:  # unpickling runs arbitrary model code
                logger.error("cannot load %s", described, exc_info=exc)
                raise NoChampionError(
                    f"{described} cannot be loaded: {type(exc).__name__}: {_first_line(exc)}"
                ) from exc
        if not isinstance(python_model, SpoilerPyfunc):
            raise NoChampionError(
                f"{described} is a {type(python_model).__name__}, not a SpoilerPyfunc:"
                " register a spoiler model"
            )
        if self.feature_store is not None and isinstance(python_model.classifier, FeatureStoreClassifier):
            python_model.classifier.bind_feature_store(self.feature_store)
        sentences = load_sentence_model(self.tracking_uri, self.model_name, self.alias)
        return ServedModel(
            classifier=python_model.classifier,
            model_name=self.model_name,
            model_version=str(version.version),
            run_id=version.run_id or None,
            loaded_at=datetime.now(UTC),
            artifact_digest=digest,
            sentence_scorer=sentences[0] if sentences else None,
            sentence_model_version=sentences[1] if sentences else None,
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


def _verify_digest(folder: Path, version: ModelVersion, described: str) -> str | None:
    """The artifacts' digest if the version records one and it matches; refuses a mismatch."""
    expected = (version.tags or {}).get(DIGEST_TAG)
    if expected is None:
        logger.warning("%s has no %s tag: its artifacts cannot be verified", described, DIGEST_TAG)
        return None
    actual = directory_digest(folder)
    if actual != expected:
        raise NoChampionError(
            f"{described} refused: its artifacts do not match the digest recorded at registration"
            f" ({DIGEST_TAG} {expected[:12]}..., downloaded {actual[:12]}...)"
        )
    return actual


def _probe(tracking_uri: str, where: str) -> None:
    """Raise NoChampionError at once when an HTTP registry does not answer at all."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT_S):
            return
    except urllib.error.HTTPError:
        return  # it answered (an auth proxy may refuse /health): reachable
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: a malformed URI
        reason = getattr(exc, "reason", exc)
        raise NoChampionError(
            f"{where} is unreachable ({reason}); the model is loaded as soon as it answers"
        ) from exc


def _without_credentials(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.hostname and (parts.username or parts.password):
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
