"""A fake spoiler classifier for the API tests.

It lives in an importable module, not in a test file, because MLflow pickles it with
cloudpickle, which stores classes by module path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SPOILER_WORDS: tuple[str, ...] = ("dies", "twist", "killer", "ending")


@dataclass
class KeywordClassifier:
    """Fake: probability is 0.25 per spoiler word in the text, capped at 1.

    With the default threshold 0.5, two words score exactly the threshold.
    `batch_sizes` records every `predict_proba` call.
    """

    name: str = "keyword-fake"
    threshold: float = 0.5
    batch_sizes: list[int] = field(default_factory=list)

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        self.batch_sizes.append(len(reviews))
        texts = reviews["review_text"].str.lower()
        hits = np.array([sum(word in text for word in SPOILER_WORDS) for text in texts], dtype=float)
        return np.minimum(1.0, 0.25 * hits)
