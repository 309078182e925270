"""Evaluation: every model on the same test split, and the champion in the registry."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.comparison import Comparison, compare_models, comparison_markdown, png_markdown
from spoiler_assets.models.metrics import PRIMARY_METRIC, score_model
from spoiler_assets.models.promotion import decide_promotion
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

EVALUATION = "evaluation"
# Every model asset that competes for champion.
MODEL_ASSETS = ("baseline_model", "xgboost_model", "mlp_model", "transformer_model")
_MODEL_INS = {name: dg.AssetIn(name) for name in MODEL_ASSETS}


def _test_rows(review_split: pd.DataFrame) -> pd.DataFrame:
    return review_split[review_split["split"] == "test"]


@dg.asset(group_name=EVALUATION, ins=_MODEL_INS, kinds={"mlflow"})
def model_comparison(
    context: dg.AssetExecutionContext,
    review_split: pd.DataFrame,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
    **models: TrainedModel,
) -> dg.Output[Comparison]:
    """Every model on the same test split: ROC-AUC, PR-AUC, F1, precision and recall at its
    threshold, single-review CPU latency and size; ROC and PR curves. The winner is the
    best PR-AUC."""
    corpus = review_source.corpus_label()
    test = _test_rows(review_split)
    context.log.info(f"scoring {len(models)} models on {len(test):,} test reviews")
    comparison = compare_models({k: m.classifier for k, m in models.items()}, test, corpus)
    with mlflow_tracking.start_run("model_comparison", tags={"corpus": corpus}) as run:
        mlflow.log_table(comparison.scores.reset_index(), "comparison.json")
        mlflow.log_text(comparison_markdown(comparison), "comparison.md")
        mlflow.log_image(_png_image(comparison.curves_png), "curves.png")
        for asset_name, row in comparison.scores.iterrows():
            mlflow.log_metric(f"{asset_name}_{PRIMARY_METRIC}", float(row[PRIMARY_METRIC]))
    return dg.Output(
        comparison,
        metadata={
            "corpus": corpus,
            "comparison": dg.MetadataValue.md(comparison_markdown(comparison)),
            "curves": dg.MetadataValue.md(png_markdown(comparison.curves_png, "ROC and PR curves")),
            "winner": comparison.winner,
            f"winner_{PRIMARY_METRIC}": float(comparison.scores[PRIMARY_METRIC].iloc[0]),
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
    version: str
    asset: str
    promoted: bool
    reason: str
    candidate_version: str


class ChampionConfig(dg.Config):
    tolerance: float = Field(
        default=0.0, description="How much lower (primary metric) a new champion may score"
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
            description="Refuses a champion that scores worse than the current one on the same test set",
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
    """The comparison's winner, registered in MLflow and given the `champion` alias when
    it is at least as good as the current champion re-scored on the same test set."""
    winner = models[model_comparison.winner]
    candidate_score = float(model_comparison.scores.loc[model_comparison.winner, PRIMARY_METRIC])
    incumbent = mlflow_tracking.champion_version()
    incumbent_score: float | None = None
    if incumbent is not None:
        context.log.info(f"re-scoring champion v{incumbent.version} on the current test split")
        incumbent_model = mlflow_tracking.load_version(incumbent)
        incumbent_score = getattr(score_model(incumbent_model, _test_rows(review_split))[0], PRIMARY_METRIC)
    decision = decide_promotion(
        model_comparison.winner,
        candidate_score,
        incumbent.version if incumbent else None,
        incumbent_score,
        PRIMARY_METRIC,
        config.tolerance,
    )
    version = mlflow_tracking.register(
        winner.model_uri,
        tags={
            "asset": model_comparison.winner,
            PRIMARY_METRIC: f"{candidate_score:.6f}",
            "test_fingerprint": model_comparison.test_fingerprint,
            "corpus": model_comparison.corpus,
            "promotion": "promoted" if decision.promote else "refused",
        },
    )
    if decision.promote:
        mlflow_tracking.set_champion(version)
    context.log.info(decision.reason)
    served = version if decision.promote or incumbent is None else incumbent
    yield dg.Output(
        Champion(
            mlflow_tracking.model_name,
            str(served.version),
            model_comparison.winner,
            decision.promote,
            decision.reason,
            str(version.version),
        ),
        metadata={
            "corpus": model_comparison.corpus,
            "registered_model": mlflow_tracking.model_name,
            "champion_version": str(served.version),
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
        metadata={
            "candidate_score": candidate_score,
            "incumbent_score": incumbent_score if incumbent_score is not None else float("nan"),
            "reason": decision.reason,
        },
    )
