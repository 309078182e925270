"""The winner is chosen on validation; test is scored after the choice and only reported."""

import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spoiler_assets.models.comparison import compare_models, comparison_markdown, plot_curves


@dataclass
class RuleModel:
    """Scores a review by whether it contains `word`: a stand-in whose skill we choose."""

    word: str
    name: str
    threshold: float = 0.5

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return reviews["review_text"].str.contains(self.word).to_numpy(dtype=float) * 0.8 + 0.1


def _split(rows: list[tuple[str, bool]], prefix: str) -> pd.DataFrame:
    texts, labels = zip(*rows, strict=True)
    return pd.DataFrame(
        {"review_id": [f"{prefix}{i}" for i in range(len(rows))], "review_text": texts, "is_spoiler": labels}
    )


# "dies" marks spoilers on validation, "killer" on test: the model that is best on test
# is not the one validation picks, and the comparison must pick the validation one.
VALID = _split([("he dies", True), ("she dies", True), ("nice", False), ("the killer", False)], "v")
TEST = _split([("the killer", True), ("a killer", True), ("fun", False), ("it dies", False)], "t")
MODELS = {"dies_model": RuleModel("dies", "dies"), "killer_model": RuleModel("killer", "killer")}


def test_winner_is_the_best_validation_pr_auc_even_when_test_says_otherwise() -> None:
    comparison = compare_models(MODELS, VALID, TEST, "SYNTHETIC")

    assert comparison.winner == "dies_model" and comparison.selection_split == "valid"
    scores = comparison.scores
    assert scores.loc["dies_model", "valid_pr_auc"] == 1.0
    assert scores.loc["killer_model", "test_pr_auc"] > scores.loc["dies_model", "test_pr_auc"]
    assert comparison.winner_test_score == scores.loc["dies_model", "test_pr_auc"]


def test_validation_and_test_side_by_side_at_the_validation_threshold() -> None:
    comparison = compare_models(MODELS, VALID, TEST, "SYNTHETIC")

    columns = set(comparison.scores.columns)
    for metric in ("roc_auc", "pr_auc", "f1", "precision", "recall"):
        assert {f"valid_{metric}", f"test_{metric}"} <= columns
    assert comparison.scores.loc["dies_model", "test_f1"] == 0.0  # 0.1 < 0.5 on both test spoilers
    assert comparison.test_positive_rate == 0.5
    np.testing.assert_allclose(comparison.test_probabilities["dies_model"], [0.1, 0.1, 0.1, 0.9])
    assert "chosen on **valid**" in comparison_markdown(comparison)


def test_importing_the_module_leaves_matplotlib_alone_and_curves_are_a_png() -> None:
    """The curves are drawn on a bare Figure: the backend a user chose stays chosen."""
    code = (
        "import matplotlib; import spoiler_assets.models.comparison;"
        " assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "MPLBACKEND": "svg"})
    png = plot_curves(np.array([True, False, True, False]), {"m": np.array([0.9, 0.2, 0.6, 0.4])}, "X")
    assert png.startswith(b"\x89PNG")
