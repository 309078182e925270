"""The fine-tuned transformer: the loop alone, then Ray Train, resume, Tune and serving.

Ray tests share one in-process Ray instance and fine-tune a tiny random BERT (with the
packaged MiniLM tokenizer), so they exercise the code, not the model's quality.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import ray
from litestar.testing import TestClient
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from api.app import create_app
from api.provider import MlflowChampionProvider
from spoiler_assets.assets.transformer import TransformerConfig
from spoiler_assets.models.base import SpoilerClassifier, reviews_frame
from spoiler_assets.models.pyfunc import SpoilerPyfunc
from spoiler_assets.models.transformer import (
    TransformerClassifier,
    stratified_sample,
    train_transformer,
    tune_transformer,
)
from spoiler_assets.models.transformer_loop import (
    PACKAGED_MINILM,
    SELECTION_METRIC,
    RankEpoch,
    Strategy,
    TrainData,
    TransformerParams,
    bucketed_batches,
    resolve_checkpoint,
    token_ids,
    train_loop_per_worker,
)

MODEL_NAME = "spoiler-shield-transformer-test"


def reviews(n: int, offset: int = 0) -> pd.DataFrame:
    """Every third review is a spoiler and says so; lengths vary."""
    rows = range(offset, offset + n)
    texts = [
        f"review {i}: " + ("the killer dies at the end. " if i % 3 == 0 else "a lovely cast. ") * (1 + i % 4)
        for i in rows
    ]
    return pd.DataFrame({"review_text": texts, "is_spoiler": [i % 3 == 0 for i in rows]})


@pytest.fixture(scope="module")
def minilm_tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(resolve_checkpoint(PACKAGED_MINILM), local_files_only=True)


# The loop and its parts, without Ray ---------------------------------------------------


def test_long_reviews_keep_head_and_tail_within_max_length(minilm_tokenizer: Any) -> None:
    long, short = token_ids(minilm_tokenizer, ["start " + "middle " * 100 + "the end", "short"], 16)

    tokens = minilm_tokenizer.convert_ids_to_tokens(long)
    assert len(long) == 16
    assert tokens[:2] == ["[CLS]", "start"] and tokens[-3:] == ["the", "end", "[SEP]"]
    assert minilm_tokenizer.convert_ids_to_tokens(short) == ["[CLS]", "short", "[SEP]"]


def test_bucketed_batches_cover_every_row_once_in_a_seeded_order() -> None:
    lengths = list(np.random.default_rng(0).integers(5, 300, size=203))

    batches = bucketed_batches(lengths, batch_size=8, seed=1, chunk=4)

    assert sorted(i for batch in batches for i in batch) == list(range(203))
    assert batches == bucketed_batches(lengths, batch_size=8, seed=1, chunk=4)
    assert batches != bucketed_batches(lengths, batch_size=8, seed=2, chunk=4)
    # Within a batch lengths are close: padding stays small.
    spread = np.mean([np.ptp([lengths[i] for i in batch]) for batch in batches])
    assert spread < np.ptp(lengths) / 4


def test_stratified_sample_keeps_the_spoiler_share() -> None:
    frame = reviews(300)

    sample = stratified_sample(frame, 0.2, seed=3)

    assert len(sample) == 60
    assert sample["is_spoiler"].mean() == pytest.approx(frame["is_spoiler"].mean())
    assert sample.index.equals(stratified_sample(frame, 0.2, seed=3).index)


def test_train_loop_runs_without_ray_on_the_packaged_minilm() -> None:
    frame = reviews(24)
    data = TrainData(
        frame["review_text"][:16].tolist(),
        frame["is_spoiler"][:16].astype(int).tolist(),
        frame["review_text"][16:].tolist(),
        frame["is_spoiler"][16:].astype(int).tolist(),
    )
    params = TransformerParams(epochs=1, batch_size=8, max_length=32, use_gpu=False)
    seen: list[dict[str, Any]] = []

    history = train_loop_per_worker({"params": asdict(params), "data": data, "on_epoch": seen.append})

    assert history == seen and len(history) == 1
    assert math.isfinite(history[0]["train_loss"]) and 0 <= history[0][SELECTION_METRIC] <= 1
    assert history[0]["device"] == "cpu"


def test_asset_config_defaults_are_the_params_defaults() -> None:
    assert TransformerConfig().params() == TransformerParams()
    assert TransformerConfig(strategy="fsdp", use_gpu="false").params() == TransformerParams(
        strategy="fsdp", use_gpu=False
    )
    with pytest.raises(ValueError, match="strategy must be 'ddp' or 'fsdp'"):
        TransformerConfig(strategy="zero3").params()


# Ray Train, resume, Ray Tune -------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    """One in-process Ray for the module: start-up costs seconds."""
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, minilm_tokenizer: Any) -> str:
    """A 2-layer, 32-wide random BERT with MiniLM's tokenizer: a local checkpoint by config."""
    folder = tmp_path_factory.mktemp("tiny_bert")
    config = BertConfig(
        vocab_size=minilm_tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    minilm_tokenizer.save_pretrained(folder)
    return str(folder)


@dataclass(frozen=True)
class RayRun:
    classifier: TransformerClassifier
    params: TransformerParams
    storage: str
    name: str
    progress: list[dict[str, Any]]


@pytest.fixture(scope="module")
def ray_run(ray_instance: None, tiny_checkpoint: str, tmp_path_factory: pytest.TempPathFactory) -> RayRun:
    params = TransformerParams(
        checkpoint=tiny_checkpoint, epochs=1, batch_size=8, max_length=32, sample_fraction=1.0, patience=3
    )
    storage = str(tmp_path_factory.mktemp("ray_results"))
    progress: list[dict[str, Any]] = []
    classifier = train_transformer(
        reviews(40), reviews(24, offset=100), params, storage, "run-1", progress=progress.append
    )
    return RayRun(classifier, params, storage, "run-1", progress)


@pytest.mark.slow
def test_ray_train_fine_tunes_and_reports_each_epoch(ray_run: RayRun) -> None:
    classifier = ray_run.classifier

    assert isinstance(classifier, SpoilerClassifier)
    assert classifier.name == "transformer_" + Path(ray_run.params.checkpoint).name.lower()
    assert [m["epoch"] for m in ray_run.progress] == [1]
    assert classifier.training.history == ray_run.progress and classifier.training.train_rows == 40
    assert 0 <= classifier.threshold <= 1
    proba = classifier.predict_proba(reviews(5, offset=200))
    assert proba.shape == (5,) and ((proba > 0) & (proba < 1)).all()


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_workers_train_disjoint_shards_in_step_with_one_checkpoint_per_epoch(
    strategy: Strategy, ray_instance: None, tiny_checkpoint: str, tmp_path: Path
) -> None:
    records = tmp_path / "records"
    records.mkdir()
    where = str(records)

    def record(epoch: RankEpoch) -> None:  # runs in each Ray Train worker
        (Path(where) / f"{epoch.rank}-{epoch.epoch}.json").write_text(json.dumps(asdict(epoch)))

    params = TransformerParams(
        checkpoint=tiny_checkpoint, num_workers=2, strategy=strategy, use_gpu=False,
        epochs=2, batch_size=4, max_length=16, sample_fraction=1.0, patience=3,
    )  # fmt: skip
    storage = tmp_path / "ray"

    classifier = train_transformer(
        reviews(16), reviews(8, offset=100), params, str(storage), "two", on_rank_epoch=record
    )

    seen = {(r["rank"], r["epoch"]): r for r in (json.loads(p.read_text()) for p in records.iterdir())}
    assert sorted(seen) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    for epoch in (1, 2):
        first, second = seen[0, epoch], seen[1, epoch]
        assert not set(first["rows"]) & set(second["rows"])  # each rank its own shard
        assert sorted(first["rows"] + second["rows"]) == list(range(16))  # together, every row
        # Different data, the same weights after every step: the gradients were averaged.
        assert first["parameter_checksum"] == second["parameter_checksum"]
        assert (first["checkpointed"], second["checkpointed"]) == (True, False)  # rank 0 only
    assert seen[0, 1]["parameter_checksum"] != seen[0, 2]["parameter_checksum"]  # it trained
    checkpoints = [c for c in (storage / "two").glob("checkpoint_*") if c.is_dir()]
    assert len(checkpoints) == 2 and all((c / "model.safetensors").is_file() for c in checkpoints)
    assert [m["epoch"] for m in classifier.training.history] == [1, 2]
    assert classifier.predict_proba(reviews(3, offset=200)).shape == (3,)
    # Both workers resume from rank 0's checkpoint (a sharded optimizer takes its shards).
    resumed = train_transformer(
        reviews(16), reviews(8, offset=100), replace(params, epochs=3), str(storage), "two"
    )
    assert [(m["epoch"], m["start_epoch"]) for m in resumed.training.history] == [(1, 0), (2, 0), (3, 2)]


@pytest.mark.slow
def test_same_run_name_resumes_from_the_saved_epoch(ray_run: RayRun) -> None:
    more = replace(ray_run.params, epochs=2)

    resumed = train_transformer(reviews(40), reviews(24, offset=100), more, ray_run.storage, ray_run.name)

    first, second = resumed.training.history
    assert first == ray_run.progress[0]  # epoch 1 comes from the checkpoint, not a new run
    assert (second["epoch"], second["start_epoch"]) == (2, 1)


@pytest.mark.slow
def test_pickled_classifier_predicts_the_same(ray_run: RayRun) -> None:
    batch = reviews(6, offset=300)

    restored = pickle.loads(pickle.dumps(ray_run.classifier))

    assert (restored.name, restored.threshold) == (ray_run.classifier.name, ray_run.classifier.threshold)
    np.testing.assert_allclose(restored.predict_proba(batch), ray_run.classifier.predict_proba(batch))


@pytest.mark.slow
def test_registered_champion_is_served_by_the_api(ray_run: RayRun, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("transformer", artifact_location=(tmp_path / "artifacts").as_uri())
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        mlflow.set_tracking_uri(uri)
        try:
            with mlflow.start_run(experiment_id=experiment):
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=SpoilerPyfunc(ray_run.classifier),
                    registered_model_name=MODEL_NAME,
                    pip_requirements=["mlflow"],  # skips slow requirement inference
                )
        finally:
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    client.set_registered_model_alias(MODEL_NAME, "champion", str(info.registered_model_version))
    texts = reviews(4, offset=400)["review_text"].tolist()

    with TestClient(create_app(MlflowChampionProvider(uri, MODEL_NAME))) as api:
        response = api.post("/predict/batch", json={"reviews": [{"review_text": t} for t in texts]})

    assert response.status_code == 200
    served = [p["spoiler_probability"] for p in response.json()["predictions"]]
    np.testing.assert_allclose(served, ray_run.classifier.predict_proba(reviews_frame(texts)), rtol=1e-6)


@pytest.mark.slow
def test_tune_returns_the_best_of_its_trials(
    ray_instance: None, tiny_checkpoint: str, tmp_path: Path
) -> None:
    base = TransformerParams(
        checkpoint=tiny_checkpoint, epochs=1, batch_size=8, max_length=32, sample_fraction=1.0, patience=3
    )

    best, trials = tune_transformer(reviews(40), reviews(24, offset=100), base, 2, str(tmp_path))

    assert len(trials) == 2 and trials[SELECTION_METRIC].between(0, 1).all()
    assert trials[SELECTION_METRIC].is_monotonic_decreasing
    winners = trials[trials[SELECTION_METRIC] == trials[SELECTION_METRIC].max()]
    chosen = (best.learning_rate, best.batch_size, best.epochs)
    assert chosen in set(zip(winners["learning_rate"], winners["batch_size"], winners["epochs"], strict=True))
    assert 1e-5 <= best.learning_rate <= 1e-4 and best.checkpoint == tiny_checkpoint
