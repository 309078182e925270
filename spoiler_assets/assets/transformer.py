"""The fine-tuned transformer: Ray Train (and optionally Ray Tune) inside one asset."""

from dataclasses import asdict
from typing import Any

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from spoiler_assets.assets.groups import TRAINING
from spoiler_assets.assets.model_run import Fit, train_in_mlflow_run
from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.ray_runtime import ray_session
from spoiler_assets.models.transformer import train_transformer, tune_transformer
from spoiler_assets.models.transformer_loop import SELECTION_METRIC, GpuChoice, TransformerParams
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.ray_storage import RayStorageResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

_DEFAULTS = TransformerParams()
_GPU_CHOICES: dict[str, GpuChoice] = {"auto": "auto", "true": True, "false": False}
_GPU_NAMES = {str(v): k for k, v in _GPU_CHOICES.items()}


class TransformerConfig(dg.Config):
    """Run config of `transformer_model`; defaults are `TransformerParams`' (a CPU budget:
    the embedded demo on 2 cores, about a minute of fine-tuning). On a GPU, raise them to
    `TransformerParams.gpu_scale()`: sample_fraction 1.0, max_length 256, epochs 3."""

    checkpoint: str = Field(
        default=_DEFAULTS.checkpoint,
        description="Encoder to fine-tune: the packaged all-MiniLM-L6-v2 or a local Hugging Face folder",
    )
    num_workers: int = Field(default=_DEFAULTS.num_workers, description="Ray Train workers (data-parallel)")
    strategy: str = Field(
        default=_DEFAULTS.strategy,
        description=(
            "ddp: each worker holds the whole model, gradients averaged; fsdp: parameters,"
            " gradients and optimizer state sharded across the workers (torch FSDP2)"
        ),
    )
    use_gpu: str = Field(
        default=_GPU_NAMES[str(_DEFAULTS.use_gpu)],
        description="auto (CUDA, then Apple MPS, then CPU), true or false",
    )
    sample_fraction: float = Field(
        default=_DEFAULTS.sample_fraction,
        description="Stratified share of the train split used for fine-tuning",
    )
    epochs: int = Field(default=_DEFAULTS.epochs, description="Most epochs; early stopping may end sooner")
    batch_size: int = Field(default=_DEFAULTS.batch_size, description="Reviews per optimiser step and worker")
    learning_rate: float = Field(
        default=_DEFAULTS.learning_rate, description="Peak AdamW learning rate (warm-up, then linear decay)"
    )
    max_length: int = Field(
        default=_DEFAULTS.max_length, description="Tokens per review (head and tail kept)"
    )
    patience: int = Field(
        default=_DEFAULTS.patience, description="Epochs without a better validation PR-AUC before stopping"
    )
    seed: int = Field(
        default=_DEFAULTS.seed, description="Random seed (sampling, initialisation, batch order)"
    )
    max_failures: int = Field(
        default=_DEFAULTS.max_failures,
        description=(
            "Ray Train restarts of a failed worker group within one step attempt (from the last"
            " checkpoint); past them the step fails and its retry policy takes over"
        ),
    )
    tune: bool = Field(
        default=False, description="Search learning rate, batch size and epochs with Ray Tune first"
    )
    tune_trials: int = Field(default=4, description="Ray Tune trials (ASHA stops weak ones early), 1 to 64")

    def params(self) -> TransformerParams:
        if self.use_gpu not in _GPU_CHOICES:
            raise ValueError(f"use_gpu must be one of {sorted(_GPU_CHOICES)}, got {self.use_gpu!r}")
        fields = self.model_dump(exclude={"use_gpu", "tune", "tune_trials"})
        return TransformerParams(**fields, use_gpu=_GPU_CHOICES[self.use_gpu])


# A failed fit (a lost Ray worker, a pre-empted node) is retried in the same run, and the
# retry resumes from the last saved epoch; so does a re-execution of the run from failure.
TRANSFORMER_RETRY = dg.RetryPolicy(max_retries=1, delay=5)


@dg.asset(group_name=TRAINING, kinds={"pytorch", "ray", "mlflow"}, retry_policy=TRANSFORMER_RETRY)
def transformer_model(
    context: dg.AssetExecutionContext,
    config: TransformerConfig,
    review_split: pd.DataFrame,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
    ray_storage: RayStorageResource,
) -> dg.Output[TrainedModel]:
    """all-MiniLM-L6-v2 (or another local encoder) fine-tuned on Ray Train with a
    class-weighted loss; the epoch with the best validation PR-AUC is kept and its
    threshold maximises F1 on validation. A retry of the step, or a re-execution of the run
    from failure, resumes from the last epoch's checkpoint. With `tune`, Ray Tune picks
    learning rate, batch size and epochs."""
    params = config.params()
    train = review_split[review_split["split"] == "train"]
    valid = review_split[review_split["split"] == "valid"]
    # Keyed by the root run: a step retry keeps the run id, a re-execution from failure gets
    # a new one but the same root, and both find and resume the same Ray run.
    root_run_id = context.run.root_run_id or context.run.run_id
    run_name = f"transformer-{root_run_id}"
    storage_path, filesystem = ray_storage.storage_path(), ray_storage.filesystem()
    logged_params = asdict(params)  # what MLflow records: the tuned values, once Tune ran

    def fit() -> Fit:
        tuned, metadata = params, {}
        if config.tune:
            context.log.info(f"Ray Tune: {config.tune_trials} trials on {len(train):,} train reviews")
            tuned, trials = tune_transformer(
                train, valid, params, config.tune_trials, storage_path, f"{run_name}-tune", filesystem
            )
            mlflow.log_table(trials, "tune_trials.json")
            metadata["tune_trials"] = dg.MetadataValue.md(trials.to_markdown(index=False))
            logged_params.update(asdict(tuned))
        context.log.info(f"Ray Train run {run_name} under {storage_path}: {tuned}")
        model = train_transformer(
            train, valid, tuned, storage_path, run_name, filesystem, progress=lambda m: _log_epoch(context, m)
        )
        history = model.training.history
        best = max(history, key=lambda row: float(row[SELECTION_METRIC]))
        _log_history(history)
        return Fit(
            model,
            metrics={SELECTION_METRIC: float(best[SELECTION_METRIC]), "threshold": model.threshold},
            metadata={
                "best_epoch": int(best["epoch"]),
                "epochs_run": len(history),
                "train_rows": model.training.train_rows,
                "device": str(best["device"]),
                "train_samples_per_s": float(best["train_samples_per_s"]),
                **metadata,
            },
        )

    with ray_session():  # one Ray for the search and the final fit
        run = train_in_mlflow_run(
            context,
            mlflow_tracking,
            review_source.corpus_label(),
            logged_params,
            fit,
            tags={"dagster_root_run_id": root_run_id},
        )
    # Checkpoints were only for resuming this run; the model is now in MLflow.
    for name in (run_name, f"{run_name}-tune") if config.tune else (run_name,):
        ray_storage.remove(name)
    return run.output()


def _log_epoch(context: dg.AssetExecutionContext, metrics: dict[str, Any]) -> None:
    context.log.info(
        f"epoch {metrics['epoch']}: loss {metrics['train_loss']:.4f}, "
        f"valid PR-AUC {metrics[SELECTION_METRIC]:.4f}, "
        f"{metrics['train_samples_per_s']:.1f} samples/s on {metrics['device']}"
    )


def _log_history(history: list[dict[str, Any]]) -> None:
    for row in history:
        numbers = {k: float(v) for k, v in row.items() if isinstance(v, int | float) and k != "epoch"}
        mlflow.log_metrics({f"epoch_{k}": v for k, v in numbers.items()}, step=int(row["epoch"]))
