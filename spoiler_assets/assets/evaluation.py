"""Evaluation: the competing models (SPOILER_MODELS) chosen on validation and reported on
test, and the champion in the registry behind a blocking promotion gate.

Both assets are built for the competing models, which are their inputs: a model left out
stays defined (and materializable by hand) but is not trained by the champion lineage,
and the comparison says why. The gate's arithmetic lives in `models.promotion`.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import mlflow
import pandas as pd

from spoiler_assets.assets.groups import EVALUATION
from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.comparison import Comparison, compare_models, comparison_markdown, png_markdown
from spoiler_assets.models.hybrid import FeatureStoreClassifier
from spoiler_assets.models.metrics import PRIMARY_METRIC
from spoiler_assets.models.promotion import (
    GateParams,
    StaleComparisonError,
    ensure_same_test_rows,
    judge_winner,
    registry_tags,
)
from spoiler_assets.resources.feature_store import FeatureStoreResource
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets.settings import MODEL_ASSETS


def _rows(review_split: pd.DataFrame, split: str) -> pd.DataFrame:
    return review_split[review_split["split"] == split]


def _model_ins(competing: Sequence[str]) -> dict[str, dg.AssetIn]:
    if not competing or set(competing) - set(MODEL_ASSETS):
        raise ValueError(f"competing models must be some of {', '.join(MODEL_ASSETS)}, got {list(competing)}")
    return {name: dg.AssetIn(name) for name in competing}


def left_out_markdown(left_out: Mapping[str, str]) -> str:
    """One line per model asset that did not compete, with why ("" when all did)."""
    return "".join(f"\n\n{name} left out: {reason}" for name, reason in left_out.items())


def build_model_comparison(competing: Sequence[str], left_out: Mapping[str, str]) -> dg.AssetsDefinition:
    """`model_comparison` over the `competing` model assets (SPOILER_MODELS): they are its
    inputs, so what `champion_job` trains; `left_out` (model -> reason) is shown with the table."""

    @dg.asset(group_name=EVALUATION, ins=_model_ins(competing), kinds={"mlflow"})
    def model_comparison(
        context: dg.AssetExecutionContext,
        review_split: pd.DataFrame,
        mlflow_tracking: MlflowTrackingResource,
        review_source: ReviewSourceResource,
        feature_store: FeatureStoreResource,
        **models: TrainedModel,
    ) -> dg.Output[Comparison]:
        """Every competing model (SPOILER_MODELS) on validation and test side by side: ROC-AUC,
        PR-AUC, and F1, precision and recall at its validation-tuned threshold; single-review
        CPU latency and size; ROC and PR curves on test. The winner is the best **validation**
        PR-AUC; test is scored after the choice and only reported. Models left out are named,
        with the reason."""
        corpus = review_source.corpus_label()
        valid, test = _rows(review_split, "valid"), _rows(review_split, "test")
        context.log.info(f"choosing among {len(models)} models on {len(valid):,} validation reviews")
        for name, reason in left_out.items():
            context.log.info(f"{name} left out: {reason}")
        # The latency column times one-review predictions, which read the online store: a
        # model from storage carries no Redis password, so it reads through this run's spec.
        serving = feature_store.spec()
        for trained in models.values():
            if isinstance(trained.classifier, FeatureStoreClassifier):
                trained.classifier.bind_feature_store(serving)
        comparison = compare_models({k: m.classifier for k, m in models.items()}, valid, test, corpus)
        markdown = comparison_markdown(comparison) + left_out_markdown(left_out)
        with mlflow_tracking.start_run("model_comparison", tags={"corpus": corpus}) as run:
            mlflow.log_table(comparison.scores.reset_index(), "comparison.json")
            mlflow.log_text(markdown, "comparison.md")
            mlflow.log_image(_png_image(comparison.curves_png), "curves.png")
            for asset_name, row in comparison.scores.iterrows():
                for split in ("valid", "test"):
                    metric = f"{split}_{PRIMARY_METRIC}"
                    mlflow.log_metric(f"{asset_name}_{metric}", float(row[metric]))
        return dg.Output(
            comparison,
            metadata=_comparison_metadata(
                comparison, markdown, left_out, run_url=mlflow_tracking.run_url(run.info.run_id)
            ),
        )

    return model_comparison


def _comparison_metadata(
    comparison: Comparison, markdown: str, left_out: Mapping[str, str], run_url: str
) -> dict[str, Any]:
    return {
        "corpus": comparison.corpus,
        "comparison": dg.MetadataValue.md(markdown),
        "competing": dg.MetadataValue.json(list(comparison.scores.index)),
        "left_out": dg.MetadataValue.json(dict(left_out)),
        "curves": dg.MetadataValue.md(png_markdown(comparison.curves_png, "ROC and PR curves")),
        "winner": comparison.winner,
        "chosen_on": comparison.selection_split,
        f"winner_valid_{PRIMARY_METRIC}": comparison.figure(comparison.winner, "valid", PRIMARY_METRIC),
        f"winner_test_{PRIMARY_METRIC}": comparison.winner_test_score,
        "test_positive_rate": comparison.test_positive_rate,
        "test_fingerprint": comparison.test_fingerprint,
        "mlflow_run": run_url,
    }


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


class ChampionConfig(dg.Config, GateParams):
    """Run config of `champion_model`'s promotion gate: the fields (defaults, descriptions) of
    `GateParams`."""

    def params(self) -> GateParams:
        return GateParams(**self.model_dump())


def build_champion_model(competing: Sequence[str]) -> dg.AssetsDefinition:
    """`champion_model` over the same `competing` model assets as `model_comparison`."""

    @dg.asset(
        group_name=EVALUATION,
        ins=_model_ins(competing),
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
        try:
            ensure_same_test_rows(model_comparison, test)  # before anything is loaded
        except StaleComparisonError as err:
            raise dg.Failure(str(err)) from err
        incumbent = mlflow_tracking.champion_version()
        current = None
        if incumbent is not None:
            context.log.info(f"re-scoring champion v{incumbent.version} on the current test split")
            current = (incumbent.version, mlflow_tracking.load_version(incumbent))
        decision = judge_winner(model_comparison, test, current, config.params())
        version = mlflow_tracking.register(winner.model_uri, tags=registry_tags(model_comparison, decision))
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

    return champion_model
