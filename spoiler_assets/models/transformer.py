"""A fine-tuned transformer encoder (all-MiniLM-L6-v2 by default) on Ray Train and Ray Tune.

The drivers (Ray Train's `TorchTrainer`, a Ray Tune search) and the served classifier;
what each worker runs is in `transformer_loop.py`. Ray and pandas are imported where
they are used.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedModel

from spoiler_assets.models.ray_runtime import ray_session
from spoiler_assets.models.transformer_loop import (
    SELECTION_METRIC,
    LoopState,
    RankEpoch,
    TrainData,
    TransformerParams,
    classifier_name,
    load_sequence_classifier,
    predict_encoded,
    token_ids,
    train_loop_per_worker,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.fs

# Ray Train and Ray Tune drivers -----------------------------------------------------------


def stratified_sample(train: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """The same share of spoilers and non-spoilers, reproducibly."""
    if fraction >= 1:
        return train
    return train.groupby("is_spoiler", group_keys=False, observed=True).sample(
        frac=fraction, random_state=seed
    )


def _train_data(train: pd.DataFrame, valid: pd.DataFrame) -> TrainData:
    return TrainData(
        train["review_text"].astype(str).tolist(),
        train["is_spoiler"].astype(int).tolist(),
        valid["review_text"].astype(str).tolist(),
        valid["is_spoiler"].astype(int).tolist(),
    )


def _scaling(params: TransformerParams) -> tuple[bool, int]:
    """Whether each worker gets a GPU, and how many CPUs (threads)."""
    import ray

    gpus = ray.cluster_resources().get("GPU", 0)
    if params.use_gpu is True and gpus < params.num_workers:
        raise ValueError(f"use_gpu=True for {params.num_workers} workers, but Ray has {gpus:g} GPUs")
    use_gpu = gpus >= params.num_workers if params.use_gpu == "auto" else bool(params.use_gpu)
    if params.cpus_per_worker:
        return use_gpu, params.cpus_per_worker
    node_cpus = max(int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"])
    total = int(ray.cluster_resources().get("CPU", 1))
    return use_gpu, max(1, min(node_cpus, total // params.num_workers))


def _trainer(
    data_ref: Any,
    params: TransformerParams,
    storage_path: str,
    run_name: str,
    storage_filesystem: pyarrow.fs.FileSystem | None,
    **config: Any,
) -> Any:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    use_gpu, cpus = _scaling(params)
    resources: dict[str, float] = {"CPU": cpus, **({"GPU": 1} if use_gpu else {})}
    return TorchTrainer(
        train_loop_per_worker,  # type: ignore[arg-type]  # Ray's hint says None; rank 0's value is kept
        train_loop_config={
            "params": asdict(params),
            "data": data_ref,
            "runner": "train",
            "cpu_threads": cpus,
            **config,
        },
        scaling_config=ScalingConfig(
            num_workers=params.num_workers, use_gpu=use_gpu, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name=run_name,
            storage_path=storage_path,
            storage_filesystem=storage_filesystem,
            failure_config=FailureConfig(max_failures=params.max_failures),
            checkpoint_config=CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute=SELECTION_METRIC, checkpoint_score_order="max"
            ),
        ),
    )


def _fit_reporting(trainer: Any, queue: Any, progress: Callable[[dict[str, Any]], None]) -> Any:
    """`trainer.fit()` in a thread while this thread hands each epoch's metrics to `progress`."""
    from concurrent.futures import ThreadPoolExecutor

    from ray.util.queue import Empty

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(trainer.fit)
        while not future.done() or not queue.empty():
            with contextlib.suppress(Empty):
                progress(queue.get(timeout=0.5))
        return future.result()


def train_transformer(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    params: TransformerParams,
    storage_path: str,
    run_name: str,
    storage_filesystem: pyarrow.fs.FileSystem | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    on_rank_epoch: Callable[[RankEpoch], None] | None = None,
) -> TransformerClassifier:
    """Fine-tune with Ray Train on a stratified `params.sample_fraction` of `train`; keep the
    best epoch by validation PR-AUC and tune its threshold (max F1) on `valid`.

    Ray Train keeps the run under `storage_path`/`run_name`: calling again with the same
    name resumes from its latest checkpoint (Ray Train 2 restores a run by name).
    `progress` sees rank 0's metrics of each epoch, here; `on_rank_epoch` runs in every
    worker after each epoch (see `RankEpoch`).
    """
    import ray
    from ray.util.queue import Queue

    data = _train_data(stratified_sample(train, params.sample_fraction, params.seed), valid)
    with ray_session():
        queue = Queue(actor_options={"num_cpus": 0}) if progress else None
        trainer = _trainer(
            ray.put(data),
            params,
            storage_path,
            run_name,
            storage_filesystem,
            progress_queue=queue,
            on_rank_epoch=on_rank_epoch,
        )
        try:
            result = _fit_reporting(trainer, queue, progress) if progress else trainer.fit()
        finally:
            if queue is not None:
                queue.shutdown()
        if result.checkpoint is None:
            raise RuntimeError(f"Ray Train run {run_name} reported no checkpoint")
        best = result.get_best_checkpoint(SELECTION_METRIC, "max") or result.checkpoint
        with result.checkpoint.as_directory() as latest:
            state = LoopState(**json.loads((Path(latest) / "state.json").read_text()))
        with best.as_directory() as folder:
            return _classifier(Path(folder), params, data, state, len(data.train_labels))


def _classifier(
    folder: Path, params: TransformerParams, data: TrainData, state: LoopState, train_rows: int
) -> TransformerClassifier:
    from spoiler_assets.models.metrics import tune_threshold

    model = load_sequence_classifier(folder)
    threshold = tune_threshold(np.asarray(data.valid_labels, dtype=bool), np.load(folder / "valid_proba.npy"))
    summary = TrainingSummary(history=state.history, train_rows=train_rows)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    name = classifier_name(params.checkpoint)
    return TransformerClassifier(model, tokenizer, threshold, params.max_length, name=name, training=summary)


def _tune_trial(config: dict[str, Any], data_ref: Any, base: TransformerParams, cpus: int) -> None:
    """One Tune trial: the training loop in the trial's own actor, one report per epoch.

    Not a nested Ray Train run: ASHA kills stopped trials, and a Train run killed that way
    leaves its placement group behind unless Ray's state API (the dashboard) is up.
    """
    params = replace(base, **config)
    train_loop_per_worker({"params": asdict(params), "data": data_ref, "runner": "tune", "cpu_threads": cpus})


def tune_transformer(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    base: TransformerParams,
    num_samples: int,
    storage_path: str,
    run_name: str = "transformer-tune",
    storage_filesystem: pyarrow.fs.FileSystem | None = None,
) -> tuple[TransformerParams, pd.DataFrame]:
    """Search learning rate, batch size and epochs with ASHA (stops weak trials after an
    epoch); returns `base` with the best values and one row per trial. Each trial trains
    in one process (a GPU each where there are GPUs). A search kept under
    `storage_path`/`run_name` is resumed rather than started again."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    if not 1 <= num_samples <= 64:
        raise ValueError(f"num_samples must be between 1 and 64, got {num_samples}")
    epochs = sorted({max(1, base.epochs - 1), base.epochs, base.epochs + 1})
    space = {
        "learning_rate": tune.loguniform(1e-5, 1e-4),
        "batch_size": tune.choice(
            sorted({max(4, base.batch_size // 2), base.batch_size, base.batch_size * 2})
        ),
        "epochs": tune.choice(epochs),
    }
    data = _train_data(stratified_sample(train, base.sample_fraction, base.seed), valid)
    with ray_session():
        use_gpu, cpus = _scaling(base)
        trial = tune.with_resources(
            tune.with_parameters(_tune_trial, data_ref=ray.put(data), base=base, cpus=cpus),
            {"cpu": cpus, "gpu": int(use_gpu)},
        )
        path = f"{storage_path.rstrip('/')}/{run_name}"
        if tune.Tuner.can_restore(path, storage_filesystem=storage_filesystem):
            tuner = tune.Tuner.restore(
                path, trial, resume_errored=True, storage_filesystem=storage_filesystem
            )
        else:
            tuner = tune.Tuner(
                trial,
                param_space=space,
                tune_config=tune.TuneConfig(
                    num_samples=num_samples,
                    scheduler=ASHAScheduler(
                        metric=SELECTION_METRIC, mode="max", max_t=max(epochs), grace_period=1
                    ),
                ),
                run_config=tune.RunConfig(
                    name=run_name, storage_path=storage_path, storage_filesystem=storage_filesystem
                ),
            )
        grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"{len(grid.errors)} of {len(grid)} tuning trials failed") from grid.errors[0]
    best = grid.get_best_result(SELECTION_METRIC, "max", scope="all").config
    if not best:
        raise RuntimeError(f"no tuning trial of {run_name} reported {SELECTION_METRIC}")
    trials = grid.get_dataframe(filter_metric=SELECTION_METRIC, filter_mode="max")
    columns = {
        "trial_id": "trial",
        **{f"config/{k}": k for k in space},
        SELECTION_METRIC: SELECTION_METRIC,
        "epoch": "best_epoch",
    }
    table = trials[list(columns)].rename(columns=columns).sort_values(SELECTION_METRIC, ascending=False)
    return replace(base, **{k: best[k] for k in space}), table.reset_index(drop=True)


# The served model -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSummary:
    """How the classifier was trained: one dict of metrics per epoch, over every resume."""

    history: list[dict[str, Any]]
    train_rows: int


_NOT_TRAINED_HERE = TrainingSummary(history=[], train_rows=0)


class TransformerClassifier:
    """A fine-tuned encoder, its tokenizer and its tuned threshold; scores on CPU.

    Pickles as the bytes of its saved model folder (what MLflow's cloudpickle stores).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: Any,
        threshold: float,
        max_length: int,
        name: str = "transformer_minilm",
        training: TrainingSummary = _NOT_TRAINED_HERE,
        batch_size: int = 32,
    ) -> None:
        self.model = model.cpu().eval()
        self.tokenizer = tokenizer
        self.threshold = threshold
        self.max_length = max_length
        self.name = name
        self.training = training
        self.batch_size = batch_size
        # A fast tokenizer is not safe to call from several threads at once ("Already
        # borrowed"); the API scores in worker threads.
        self._lock = threading.Lock()

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        if len(reviews) == 0:
            return np.empty(0, dtype=np.float64)
        texts = reviews["review_text"].fillna("").astype(str).tolist()
        with self._lock:
            seqs = token_ids(self.tokenizer, texts, self.max_length)
        return predict_encoded(
            self.model, seqs, self.tokenizer.pad_token_id, torch.device("cpu"), self.batch_size
        )

    def __getstate__(self) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="spoiler-model-") as folder:
            self.model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
            files = {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}
        state = {k: v for k, v in self.__dict__.items() if k not in ("model", "tokenizer", "_lock")}
        return {**state, "files": files}

    def __setstate__(self, state: dict[str, Any]) -> None:
        files = state.pop("files")
        with tempfile.TemporaryDirectory(prefix="spoiler-model-") as folder:
            for name, content in files.items():
                (Path(folder) / name).write_bytes(content)
            model = load_sequence_classifier(Path(folder))
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.__dict__.update(state)
        self.model, self.tokenizer, self._lock = model.eval(), tokenizer, threading.Lock()
