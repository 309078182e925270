"""What a logged model declares it needs to be served elsewhere."""

from importlib import metadata

from spoiler_assets.models.baseline import TfidfLogisticModel
from spoiler_assets.models.hybrid_mlp import MLPSpoilerModel
from spoiler_assets.models.hybrid_xgboost import XGBoostSpoilerModel
from spoiler_assets.models.transformer import TransformerClassifier
from spoiler_assets.resources.tracking import model_requirements


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
