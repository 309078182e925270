"""What a logged model declares it needs to be served elsewhere, and what the tracking
resource leaves behind in the process."""

import os
from importlib import metadata
from pathlib import Path

import mlflow
import pytest

from spoiler_assets.models.baseline import TfidfLogisticModel
from spoiler_assets.models.digest import DIGEST_TAG
from spoiler_assets.models.hybrid_mlp import MLPSpoilerModel
from spoiler_assets.models.hybrid_xgboost import XGBoostSpoilerModel
from spoiler_assets.models.pyfunc import SpoilerPyfunc
from spoiler_assets.models.transformer import TransformerClassifier
from spoiler_assets.resources.tracking import MlflowTrackingResource, model_requirements
from spoiler_assets_tests.api.fake_models import KeywordClassifier


def _names(classifier_type: type) -> set[str]:
    # the function looks only at the classifier's type: no trained model needed
    return {r.split("==")[0] for r in model_requirements(object.__new__(classifier_type))}


def test_each_model_declares_its_own_libraries_pinned_to_the_installed_versions() -> None:
    assert _names(TfidfLogisticModel) == {"scikit-learn", "pandas", "numpy", "mlflow"}
    assert {"xgboost", "feast", "redis", "sentence-transformers", "torch"} <= _names(XGBoostSpoilerModel)
    assert "xgboost" not in _names(MLPSpoilerModel) and "feast" in _names(MLPSpoilerModel)
    assert {"torch", "transformers"} <= _names(TransformerClassifier)
    pins = model_requirements(object.__new__(XGBoostSpoilerModel))
    assert f"xgboost=={metadata.version('xgboost')}" in pins


def _process_tracking_state() -> tuple[str, bool, str | None]:
    return mlflow.get_tracking_uri(), mlflow.is_tracking_uri_set(), os.environ.get("MLFLOW_TRACKING_URI")


@pytest.mark.parametrize("set_before", [False, True], ids=["unset", "set"])
def test_runs_and_registrations_leave_the_process_tracking_uri_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_before: bool
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/elsewhere.db" if set_before else None)  # type: ignore[arg-type]
    before = _process_tracking_state()
    tracking = MlflowTrackingResource(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_location=str(tmp_path / "artifacts")
    )
    try:
        with tracking.start_run("probe") as run:
            mlflow.log_metric("logged_inside", 1.0)  # the fluent API writes to the resource's store
            model_uri = mlflow.pyfunc.log_model(
                name="model", python_model=SpoilerPyfunc(KeywordClassifier()), pip_requirements=[]
            ).model_uri
        after_run = _process_tracking_state()
        version = tracking.register(model_uri, tags={"probe": "yes"}, name="probe-sentences")
        after_register = _process_tracking_state()
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]

    assert after_run == before and after_register == before
    assert tracking.client().get_run(run.info.run_id).data.metrics == {"logged_inside": 1.0}
    assert version.name == "probe-sentences" and DIGEST_TAG in version.tags
    assert tracking.champion_version("probe-sentences") is None
    tracking.set_champion(version)
    champion = tracking.champion_version("probe-sentences")
    assert champion is not None and champion.version == version.version
