"""MLflow packaging: every `SpoilerClassifier` is logged as the same pyfunc flavour."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from spoiler_assets.models.base import REVIEW_COLUMNS, SpoilerClassifier


class SpoilerPyfunc(PythonModel):
    """Wraps a classifier so that the registry stores it with its threshold.

    `predict` returns a frame with `spoiler_probability` and `is_spoiler`; callers that
    need the classifier itself use `unwrap_python_model().classifier`.
    """

    def __init__(self, classifier: SpoilerClassifier) -> None:
        self.classifier = classifier

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        frame = model_input.reindex(columns=list(REVIEW_COLUMNS))
        proba = np.asarray(self.classifier.predict_proba(frame), dtype=float)
        return pd.DataFrame({"spoiler_probability": proba, "is_spoiler": proba >= self.classifier.threshold})
