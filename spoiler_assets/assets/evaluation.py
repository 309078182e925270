"""Evaluation: every model chosen on validation and reported on test, and the champion in
the registry behind a blocking promotion gate."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from spoiler_assets.models.base import TrainedModel, labelled_probabilities
from spoiler_assets.models.comparison import (
    Comparison,
    compare_models,
    comparison_markdown,
    png_markdown,
    test_fingerprint,
)
from spoiler_assets.models.metrics import PRIMARY_METRIC
from spoiler_assets.models.promotion import GateParams, decide_promotion
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

EVALUATION = "evaluation"
# Every model asset that competes for champion.
MODEL_ASSETS = ("baseline_model", "xgboost_model", "mlp_model", "transformer_model")
_MODEL_INS = {name: dg.AssetIn(name) for name in MODEL_ASSETS}


def _rows(review_split: pd.DataFrame, split: str) -> pd.DataFrame:
    return review_split[review_split["split"] == split]


@dg.asset(group_name=EVALUATION, ins=_MODEL_INS, kinds={"mlflow"})
def model_comparison(
    context: dg.AssetExecutionContext,
    review_split: pd.DataFrame,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
    **models: TrainedModel,
) -> dg.Output[Comparison]:
    """Every model on validation and test side by side: ROC-AUC, PR-AUC, and F1, precision
    and recall at its validation-tuned threshold; single-review CPU latency and size; ROC
    and PR curves on test. The winner is the best **validation** PR-AUC; test is scored
    after the choice and only reported."""
    corpus = review_source.corpus_label()
    valid, test = _rows(review_split, "valid"), _rows(review_split, "test")
    context.log.info(f"choosing among {len(models)} models on {len(valid):,} validation reviews")
    comparison = compare_models({k: m.classifier for k, m in models.items()}, valid, test, corpus)
    with mlflow_tracking.start_run("model_comparison", tags={"corpus": corpus}) as run:
        mlflow.log_table(comparison.scores.reset_index(), "comparison.json")
        mlflow.log_text(comparison_markdown(comparison), "comparison.md")
        mlflow.log_image(_png_image(comparison.curves_png), "curves.png")
        for asset_name, row in comparison.scores.iterrows():
            for split in ("valid", "test"):
                metric = f"{split}_{PRIMARY_METRIC}"
                mlflow.log_metric(f"{asset_name}_{metric}", float(row[metric]))
    return dg.Output(
        comparison,
        metadata={
            "corpus": corpus,
            "comparison": dg.MetadataValue.md(comparison_markdown(comparison)),
            "curves": dg.MetadataValue.md(png_markdown(comparison.curves_png, "ROC and PR curves")),
            "winner": comparison.winner,
            "chosen_on": comparison.selection_split,
            f"winner_valid_{PRIMARY_METRIC}": comparison.figure(comparison.winner, "valid", PRIMARY_METRIC),
            f"winner_test_{PRIMARY_METRIC}": comparison.winner_test_score,
            "test_positive_rate": comparison.test_positive_rate,
            "test_fingerprint": comparison.test_fingerprint,
            "mlflow_run": mlflow_tracking.run_url(run.info.run_id),
        },
    )


def _png_image(png: bytes) -> Any:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png))


@dataclass(frozen=True)
class Champion:
    """The registry's answer after a promotion attempt."""

    model_name: str
    version: str | None  # the served champion after this run; None while there is none
    asset: str
    promoted: bool
    reason: str
    candidate_version: str


class ChampionConfig(dg.Config):
    roc_auc_floor: float = Field(
        default=GateParams.roc_auc_floor, description="Test ROC-AUC every champion must exceed"
    )
    pr_auc_margin: float = Field(
        default=GateParams.pr_auc_margin,
        description="Test PR-AUC must exceed the test spoiler share (a random ranking) by this much",
    )
    tolerance: float = Field(
        default=GateParams.tolerance,
        description="How much lower a new champion's test PR-AUC may be than the incumbent's",
    )
    bootstrap_samples: int = Field(
        default=GateParams.bootstrap_samples,
        description="Paired bootstrap resamples for the interval of the difference to the incumbent",
    )
    seed: int = Field(default=GateParams.seed, description="Bootstrap seed")

    def params(self) -> GateParams:
        return GateParams(
            roc_auc_floor=self.roc_auc_floor,
            pr_auc_margin=self.pr_auc_margin,
            tolerance=self.tolerance,
            bootstrap_samples=self.bootstrap_samples,
            seed=self.seed,
        )


@dg.asset(
    group_name=EVALUATION,
    ins=_MODEL_INS,
    kinds={"mlflow"},
    check_specs=[
        dg.AssetCheckSpec(
            "promotion_gate",
            asset="champion_model",
            blocking=True,
            description=(
                "Refuses a champion below the ROC-AUC floor or the PR-AUC margin over the spoiler"
                " share, or worse than the current champion on the same test rows"
            ),
        )
    ],
)
def champion_model(
    context: dg.AssetExecutionContext,
    config: ChampionConfig,
    model_comparison: Comparison,
    review_split: pd.DataFrame,
    mlflow_tracking: MlflowTrackingResource,
    **models: TrainedModel,
) -> Iterator[dg.Output[Champion] | dg.AssetCheckResult]:
    """The comparison's winner (chosen on validation), registered in MLflow and given the
    `champion` alias only when the blocking `promotion_gate` passes: test ROC-AUC above
    the floor and PR-AUC above the test spoiler share by a margin, always; and, when there
    is a champion, not worse than it re-scored on the same (newest labelled) test rows,
    with a paired bootstrap interval of the difference in the check's metadata."""
    winner = models[model_comparison.winner]
    test = _rows(review_split, "test")
    if test_fingerprint(test) != model_comparison.test_fingerprint:
        raise dg.Failure("review_split changed since model_comparison: re-run the comparison first")
    labels = test["is_spoiler"].to_numpy(dtype=bool)
    candidate_proba = model_comparison.test_probabilities[model_comparison.winner]
    incumbent = mlflow_tracking.champion_version()
    incumbent_proba = None
    if incumbent is not None:
        context.log.info(f"re-scoring champion v{incumbent.version} on the current test split")
        incumbent_proba = labelled_probabilities(mlflow_tracking.load_version(incumbent), test)
    decision = decide_promotion(
        model_comparison.winner,
        labels,
        candidate_proba,
        incumbent.version if incumbent else None,
        incumbent_proba,
        config.params(),
    )
    figures = {
        f"{split}_{metric}": model_comparison.figure(model_comparison.winner, split, metric)
        for split in ("valid", "test")
        for metric in ("roc_auc", "pr_auc", "f1")
    }
    version = mlflow_tracking.register(
        winner.model_uri,
        tags={
            "asset": model_comparison.winner,
            PRIMARY_METRIC: f"{decision.candidate_score:.6f}",
            **{name: f"{value:.6f}" for name, value in figures.items()},
            "chosen_on": model_comparison.selection_split,
            "test_fingerprint": model_comparison.test_fingerprint,
            "corpus": model_comparison.corpus,
            "promotion": "promoted" if decision.promote else "refused",
        },
    )
    if decision.promote:
        mlflow_tracking.set_champion(version)
    context.log.info(decision.reason)
    served = version if decision.promote else incumbent
    yield dg.Output(
        Champion(
            mlflow_tracking.model_name,
            str(served.version) if served else None,
            model_comparison.winner,
            decision.promote,
            decision.reason,
            str(version.version),
        ),
        metadata={
            "corpus": model_comparison.corpus,
            "registered_model": mlflow_tracking.model_name,
            "champion_version": str(served.version) if served else "none",
            "candidate_version": str(version.version),
            "candidate": model_comparison.winner,
            "promoted": decision.promote,
            "reason": decision.reason,
            "mlflow_run": mlflow_tracking.run_url(winner.run_id),
        },
    )
    yield dg.AssetCheckResult(
        check_name="promotion_gate",
        passed=decision.promote,
        severity=dg.AssetCheckSeverity.ERROR,
        description=decision.reason,
        metadata={**decision.figures(), "reason": decision.reason},
    )
