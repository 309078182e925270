"""The sentence scorer served beside the champion, and its figures on real sentence labels."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
from pydantic import Field

from spoiler_assets.assets.evaluation import Champion
from spoiler_assets.assets.groups import SENTENCES
from spoiler_assets.assets.model_run import Fit, train_in_mlflow_run
from spoiler_assets.models.base import SpoilerClassifier, TrainedModel, reviews_frame
from spoiler_assets.models.sentence_evaluation import (
    GOODREADS_FILE,
    SentenceSample,
    evaluate_sentence_scorers,
    load_goodreads_sentences,
    sample_sentences,
)
from spoiler_assets.models.sentences import (
    SENTENCE_MODEL_SUFFIX,
    SentenceModel,
    SentenceParams,
    train_sentence_model,
)
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

# The team's checkout keeps real sentence labels beside the repository (../shared/data);
# a user's machine has no such folder and the evaluation says so instead of scoring.
_REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_SENTENCE_LABELS = _REPOSITORY.parent / "shared" / "data" / "goodreads_sentences"


_SAMPLE = SentenceSample()


class SentenceModelConfig(dg.Config, SentenceParams):
    """Run config of `sentence_model`: the fields (defaults, descriptions) of `SentenceParams`."""

    def params(self) -> SentenceParams:
        return SentenceParams(**self.model_dump())


@dataclass(frozen=True)
class RegisteredSentenceModel:
    """The sentence scorer, its MLflow run and the registry version served with the champion."""

    trained: TrainedModel
    registered_name: str
    version: str
    review_champion_version: str | None


@dg.asset(group_name=SENTENCES, kinds={"sklearn", "mlflow"})
def sentence_model(
    context: dg.AssetExecutionContext,
    config: SentenceModelConfig,
    review_split: pd.DataFrame,
    champion_model: Champion,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
) -> dg.Output[RegisteredSentenceModel]:
    """Spoiler probability per sentence: TF-IDF + logistic loss trained by multiple-instance
    learning from the review labels (see `spoiler_assets.models.sentences` for why). It is
    registered as `<model name>-sentences` and takes the `champion` alias together with a
    promoted review champion, so the API loads the pair."""
    params = config.params()
    train = review_split[review_split["split"] == "train"]
    valid = review_split[review_split["split"] == "valid"]

    def fit() -> Fit:
        context.log.info(f"MIL over the sentences of {len(train):,} training reviews")
        model = train_sentence_model(train, valid, params)
        return Fit(model, metrics={"threshold": model.threshold}, metadata={"train_reviews": len(train)})

    corpus = review_source.corpus_label()
    run = train_in_mlflow_run(context, mlflow_tracking, corpus, params.model_dump(), fit)
    name = mlflow_tracking.model_name + SENTENCE_MODEL_SUFFIX
    champion_version = champion_model.version
    # Tagged with its artifacts' digest as the champion is: the API checks it before unpickling.
    tags = {"corpus": corpus, "review_champion_version": str(champion_version)}
    version = mlflow_tracking.register(run.trained.model_uri, tags, name=name)
    served = champion_model.promoted or mlflow_tracking.champion_version(name) is None
    if served:
        mlflow_tracking.set_champion(version)
    return dg.Output(
        RegisteredSentenceModel(run.trained, name, str(version.version), champion_version),
        metadata={
            **run.metadata,
            "registered_model": name,
            "version": str(version.version),
            "served_as_champion": served,
            "review_champion_version": str(champion_version),
        },
    )


class SentenceEvaluationConfig(dg.Config):
    labels_dir: str = Field(
        default=str(DEFAULT_SENTENCE_LABELS),
        description=f"Folder holding the Goodreads spoiler sentences ({GOODREADS_FILE})",
    )
    max_sentences: int | None = Field(
        default=_SAMPLE.max_sentences,
        description="Score a seeded uniform sample of this many sentences (None: all)",
    )
    seed: int = Field(default=_SAMPLE.seed, description="Seed of the sample")

    def sample(self) -> SentenceSample:
        return SentenceSample(**self.model_dump(exclude={"labels_dir"}))


@dg.asset(group_name=SENTENCES, kinds={"mlflow"}, output_required=False)
def sentence_evaluation(
    context: dg.AssetExecutionContext,
    config: SentenceEvaluationConfig,
    sentence_model: RegisteredSentenceModel,
    baseline_model: TrainedModel,
    champion_model: Champion,
    mlflow_tracking: MlflowTrackingResource,
) -> Iterator[dg.Output[pd.DataFrame]]:
    """Sentence-level ROC-AUC and PR-AUC on real labels, the Goodreads spoiler sentences
    (CROSS-DOMAIN: models trained on movie reviews, judged on book-review sentences), for
    the sentence model against the naive approach, each sentence scored alone by a review
    model (the champion, and the TF-IDF baseline when it is not the champion). Not
    materialized when the folder is absent."""
    folder = Path(config.labels_dir)
    if not (folder / GOODREADS_FILE).exists():
        context.log.warning(f"no sentence labels at {folder / GOODREADS_FILE}: sentence_evaluation skipped")
        return
    sentences = sample_sentences(load_goodreads_sentences(folder), config.sample())
    sentence_scorer = sentence_model.trained.classifier
    assert isinstance(sentence_scorer, SentenceModel)
    scorers: dict[str, tuple[str, Callable[[Sequence[str]], np.ndarray]]] = {
        "sentence_model (MIL)": (sentence_scorer.name, sentence_scorer.predict_sentences)
    }
    if champion_model.version is not None:
        champion = _load_registered(mlflow_tracking, champion_model.version)
        label = f"naive: champion v{champion_model.version} ({champion_model.asset})"
        scorers[label] = (champion.name, _as_reviews(champion))
    if champion_model.version is None or champion_model.asset != "baseline_model":
        baseline = baseline_model.classifier
        scorers["naive: baseline_model"] = (baseline.name, _as_reviews(baseline))
    context.log.info(f"scoring {len(sentences):,} Goodreads sentences with {len(scorers)} approaches")
    scores = evaluate_sentence_scorers(sentences, scorers)
    corpus = sentence_model.trained.corpus
    table = scores.to_markdown(index=False, floatfmt=".4f")
    caption = (
        f"CROSS-DOMAIN: trained on {corpus} movie reviews, judged on {len(sentences):,} Goodreads"
        f" book-review sentences ({int(sentences['is_spoiler'].sum())} spoilers)"
    )
    with mlflow_tracking.start_run("sentence_evaluation", tags={"corpus": corpus}) as run:
        mlflow.log_table(scores, "sentence_evaluation.json")
        mlflow.log_text(f"{caption}\n\n{table}\n", "sentence_evaluation.md")
        for row in scores.itertuples():
            key = "".join(c if c.isalnum() else "_" for c in str(row.approach))
            mlflow.log_metrics({f"{key}_roc_auc": float(row.roc_auc), f"{key}_pr_auc": float(row.pr_auc)})
    yield dg.Output(
        scores,
        metadata={
            "corpus": corpus,
            "judged_on": "Goodreads spoiler sentences (Wan et al. 2019), cross-domain",
            "sentence_scores": dg.MetadataValue.md(f"{caption}\n\n{table}"),
            "n_sentences": len(sentences),
            "mlflow_run": mlflow_tracking.run_url(run.info.run_id),
        },
    )


def _load_registered(tracking: MlflowTrackingResource, version: str) -> SpoilerClassifier:
    """A registered version's classifier (`load_version` leaves its artifacts untouched)."""
    return tracking.load_version(tracking.version(version))


def _as_reviews(model: SpoilerClassifier) -> Callable[[Sequence[str]], np.ndarray]:
    """A review model applied to each sentence as if it were a whole review."""
    return lambda texts: np.asarray(model.predict_proba(reviews_frame(list(texts))), dtype=float)
