"""Benchmark: the transformer's training step and inference, samples/s on one GPU.

Part one runs the training step of `train_loop_per_worker` (bf16 autocast, SDPA attention,
fused AdamW, class-weighted loss, gradient clipping) and the classifier's batched inference
on random-init weights from the MiniLM-L6 and DistilBERT configs, at sequence length 256
and batch 256, and compares them with the anchors measured on one H200: the same shape.

Part two runs `train_loop_per_worker` itself (runner "local", one epoch) on SYNTHETIC
reviews of about 1,120 characters: tokenizing, length-bucketed dynamic-padded batches,
the DataLoader, the lr schedule and the validation pass included, so end to end.
It needs a checkpoint folder; without network the weights are random-init, written
from the config and tokenizer files in `--checkpoint-dir` (see `gpu_checkpoint`).

Needs torch and transformers only: no Ray, no network, no trained weights. Not a test: it prints.

    python -m spoiler_assets_tests.benchmarks.gpu_transformer_benchmark --write-tokenizer-files DIR
    python -m spoiler_assets_tests.benchmarks.gpu_transformer_benchmark --checkpoint-dir DIR  # GPU
    python -m spoiler_assets_tests.benchmarks.gpu_transformer_benchmark --checkpoint-dir DIR --cpu-smoke
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    DistilBertConfig,
    PretrainedConfig,
)
from transformers.utils import logging as hf_logging

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.models import transformer_loop
from spoiler_assets.models.transformer_loop import (
    PACKAGED_MINILM,
    TrainData,
    TransformerParams,
    autocast,
    make_optimizer,
    pick_device,
    resolve_checkpoint,
    token_ids,
    train_loop_per_worker,
    train_step,
)
from spoiler_assets_tests.benchmarks.gpu_checkpoint import (
    has_weights,
    trainable_checkpoint,
    write_tokenizer_files,
)

# samples/s on one H200 at sequence length 256, batch 256 (bf16, SDPA, fused AdamW).
ANCHORS = {"MiniLM-L6": (7_720, 28_783), "DistilBERT": (4_231, 14_073)}


def minilm_config() -> PretrainedConfig:
    """The packaged model's config; its published shape where the package is absent."""
    try:
        return AutoConfig.from_pretrained(resolve_checkpoint(PACKAGED_MINILM), local_files_only=True)
    except ImportError:
        return BertConfig(
            hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536
        )


CONFIGS: dict[str, Callable[[], PretrainedConfig]] = {
    "MiniLM-L6": minilm_config,
    "DistilBERT": DistilBertConfig,
}


def build(config: PretrainedConfig, device: torch.device) -> torch.nn.Module:
    config.num_labels = 2
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="sdpa")
    return model.to(device)


def random_batch(
    config: PretrainedConfig, batch: int, seq_len: int, device: torch.device
) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.randint(1000, config.vocab_size, (batch, seq_len), generator=generator).to(device),
        "attention_mask": torch.ones((batch, seq_len), dtype=torch.long, device=device),
        "labels": torch.randint(0, 2, (batch,), generator=generator).to(device),
    }


def timed(step: Callable[[], object], warmup: int, steps: int, device: torch.device) -> float:
    """Seconds per step after `warmup` steps, synchronising the device at both ends."""
    for _ in range(warmup):
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - start) / steps


def measure(name: str, args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    config = CONFIGS[name]()
    model = build(config, device)
    batch = random_batch(config, args.batch, args.seq_len, device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([0.7, 1.9], device=device))
    optimizer = make_optimizer(model, 5e-5, device)
    model.train()
    train_s = timed(
        lambda: train_step(model, batch, loss_fn, optimizer, device), args.warmup, args.steps, device
    )
    model.eval()
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}

    def infer() -> torch.Tensor:
        with torch.inference_mode(), autocast(device):
            return torch.softmax(model(**inputs).logits.float(), dim=-1)[:, 1]

    infer_s = timed(infer, args.warmup, args.steps, device)
    return args.batch / train_s, args.batch / infer_s


# Part two: the loop function itself ------------------------------------------------------


def synthetic_reviews(n: int, seed: int) -> tuple[list[str], list[int]]:
    """SYNTHETIC review texts and spoiler labels from the project's generator."""
    with tempfile.TemporaryDirectory(prefix="spoiler-bench-corpus-") as folder:
        corpus = generate_corpus(Path(folder), CorpusSpec(n_reviews=n, seed=seed))
        with corpus.reviews_path.open(encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines]
    return [row["review_text"] for row in rows], [int(row["is_spoiler"]) for row in rows]


def loop_source(args: argparse.Namespace) -> Path | None:
    """The folder whose tokenizer (and config, and weights if any) the loop part uses."""
    if args.skip_loop:
        return None
    if args.checkpoint_dir is None:
        try:
            return resolve_checkpoint(PACKAGED_MINILM)
        except ImportError:
            raise SystemExit(
                "the loop part needs --checkpoint-dir (made with --write-tokenizer-files) or --skip-loop"
            ) from None
    for name in ("config.json", "tokenizer.json"):
        if not (args.checkpoint_dir / name).exists():
            raise SystemExit(f"no {name} in {args.checkpoint_dir}; prepare it with --write-tokenizer-files")
    return Path(args.checkpoint_dir)


@dataclass(frozen=True)
class LoopRun:
    metrics: dict[str, Any]  # the epoch's metrics as train_loop_per_worker returns them
    train_samples: int
    valid_samples: int
    tail_s: float  # GPU work still queued when the loop's epoch timer stopped
    valid_s: float  # the validation pass (_evaluate), timed around it
    wall_s: float  # the whole call: loading, tokenizing, training, validation

    @property
    def train_synced(self) -> float:
        return self.train_samples / (self.metrics["epoch_seconds"] + self.tail_s)


def run_loop(checkpoint: Path, data: TrainData, args: argparse.Namespace) -> LoopRun:
    params = replace(
        TransformerParams().gpu_scale(),
        checkpoint=str(checkpoint),
        use_gpu=False if args.cpu_smoke else "auto",
        epochs=args.loop_epochs,
        patience=args.loop_epochs,  # no early stop: every epoch is timed
        batch_size=args.loop_batch,
        max_length=args.seq_len,
    )
    marks: dict[str, float] = {}
    evaluate = transformer_loop._evaluate

    # The loop's epoch timer stops without waiting for the device, and validation has no
    # timer of its own: wrap the call that follows the epoch to measure both.
    def timed_evaluate(*call_args: Any, **call_kwargs: Any) -> Any:
        start = time.perf_counter()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        marks["tail"] = time.perf_counter() - start
        result = evaluate(*call_args, **call_kwargs)
        marks["valid"] = time.perf_counter() - start - marks["tail"]
        return result

    def on_epoch(m: dict[str, Any]) -> None:
        print(
            f"  epoch {m['epoch']}: loss {m['train_loss']:.4f}, "
            f"valid PR-AUC {m[transformer_loop.SELECTION_METRIC]:.3f}, "
            f"{m['train_samples_per_s']:,.1f} train samples/s over {m['epoch_seconds']:.1f} s "
            f"on {m['device']}"
        )

    config = {"runner": "local", "data": data, "params": asdict(params), "on_epoch": on_epoch}
    start = time.perf_counter()
    with mock.patch.object(transformer_loop, "_evaluate", timed_evaluate):
        history = train_loop_per_worker(config)
    wall = time.perf_counter() - start
    return LoopRun(
        history[-1], len(data.train_texts), len(data.valid_texts), marks["tail"], marks["valid"], wall
    )


def loop_part(args: argparse.Namespace, source: Path) -> None:
    n_train, n_valid = args.loop_train, args.loop_valid
    print(f"\ngenerating {n_train:,} + {n_valid:,} SYNTHETIC reviews (spoiler_assets.data.synthetic) ...")
    texts, labels = synthetic_reviews(n_train + n_valid, args.loop_seed)
    data = TrainData(texts[:n_train], labels[:n_train], texts[n_train:], labels[n_train:])
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    sample = texts[:2000]
    tokens = np.array([len(s) for s in token_ids(tokenizer, sample, args.seq_len)])
    print(
        f"SYNTHETIC texts: mean {np.mean([len(t) for t in texts]):,.0f} characters, spoiler share "
        f"{np.mean(labels):.2f}; mean {tokens.mean():.0f} tokens after truncation to {args.seq_len} "
        f"({np.mean(tokens == args.seq_len):.0%} at the cap; first {len(sample):,} texts)"
    )
    importlib.import_module("sklearn.metrics")  # _evaluate imports it on first use: not part of the timing
    runs: dict[str, LoopRun] = {}
    for name in args.loop_models:
        use_weights = name == "MiniLM-L6" and has_weights(source)
        weights = f"weights of {source}" if use_weights else "random-init weights"
        print(f"train_loop_per_worker: {name}, {weights}, tokenizer of {source} ...")
        with tempfile.TemporaryDirectory(prefix="spoiler-bench-ckpt-") as folder:
            if use_weights:
                checkpoint = source
            else:
                config = (
                    AutoConfig.from_pretrained(source, local_files_only=True)
                    if name == "MiniLM-L6"
                    else CONFIGS[name]()
                )
                checkpoint = trainable_checkpoint(source, config, Path(folder), args.loop_seed)
            runs[name] = run_loop(checkpoint, data, args)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    print(
        f"\ntrain_loop_per_worker end to end (runner local, {args.loop_epochs} epoch(s), batch "
        f"{args.loop_batch}, max_length {args.seq_len}) on SYNTHETIC texts; figures of the last epoch "
        "(the first also pays one-time warm-up, like the anchors' untimed steps):\n"
        "tokenized, dynamic-padded, length-bucketed batches; includes the DataLoader, lr schedule and "
        "loss accumulation.\n"
        "loop/s: its own train_samples_per_s metric (timer stops without waiting for the GPU); "
        "synced/s: with the GPU's queued work waited for.\n"
        "valid/s: its validation pass (_evaluate: length-sorted batches of 256 on a GPU, PR-AUC), "
        "timed around it.\n"
        "wall s: the whole call (loading, tokenizing, training, validation). Ratios: not the anchors' "
        "fixed shape.\n"
    )
    print(
        f"{'model':<11} {'loop/s':>9} {'synced/s':>9} {'H200':>7} {'ratio':>6} "
        f"{'valid/s':>9} {'H200':>7} {'ratio':>6} {'wall s':>7}"
    )
    for name, run in runs.items():
        anchor_train, anchor_infer = ANCHORS[name]
        valid = run.valid_samples / run.valid_s
        print(
            f"{name:<11} {run.metrics['train_samples_per_s']:>9,.1f} {run.train_synced:>9,.1f} "
            f"{anchor_train:>7,} {run.train_synced / anchor_train:>6.3f} "
            f"{valid:>9,.1f} {anchor_infer:>7,} {valid / anchor_infer:>6.3f} {run.wall_s:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny batch and steps on CPU: does it run?")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    loop = parser.add_argument_group("part two: train_loop_per_worker end to end")
    loop.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="config and tokenizer files (weights optional); default: the installed packaged model",
    )
    loop.add_argument(
        "--write-tokenizer-files",
        type=Path,
        metavar="DIR",
        help="copy the packaged model's config and tokenizer files into DIR, then exit",
    )
    loop.add_argument("--skip-loop", action="store_true", help="part one only")
    loop.add_argument("--loop-models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    loop.add_argument("--loop-train", type=int, default=20_000, help="training texts")
    loop.add_argument("--loop-valid", type=int, default=5_000, help="validation texts")
    loop.add_argument("--loop-batch", type=int, default=256)
    loop.add_argument("--loop-epochs", type=int, default=2, help="the last one is reported")
    loop.add_argument("--loop-seed", type=int, default=7)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a killed run still shows
    hf_logging.disable_progress_bar()
    if args.write_tokenizer_files:
        for path in write_tokenizer_files(args.write_tokenizer_files):
            print(path)
        return
    source = loop_source(args)
    if args.cpu_smoke:
        args.batch, args.seq_len, args.warmup, args.steps = 4, 32, 1, 2
        args.loop_train, args.loop_valid, args.loop_batch = 64, 32, 16
        torch.set_num_threads(1)  # spinning worker threads crawl on a busy machine; speed is moot here
    device = torch.device("cpu") if args.cpu_smoke else pick_device("auto")
    if device.type != "cuda" and not args.cpu_smoke:
        raise SystemExit("no CUDA GPU found; use --cpu-smoke to check that the benchmark runs")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    print(f"torch {torch.__version__} on {gpu}; bf16 autocast {'on' if bf16 else 'off'}; SDPA attention")
    print(f"batch {args.batch}, sequence length {args.seq_len}, {args.steps} timed steps after {args.warmup}")
    print(f"\n{'model':<11} {'train/s':>9} {'H200':>7} {'ratio':>6} {'infer/s':>9} {'H200':>7} {'ratio':>6}")
    for name in args.models:
        train, infer = measure(name, args, device)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        anchor_train, anchor_infer = ANCHORS[name]
        print(
            f"{name:<11} {train:>9,.1f} {anchor_train:>7,} {train / anchor_train:>6.3f} "
            f"{infer:>9,.1f} {anchor_infer:>7,} {infer / anchor_infer:>6.3f}"
        )
    if source is not None:
        loop_part(args, source)
    if args.cpu_smoke:
        print("\n(CPU smoke: tiny shapes, the ratios mean nothing; run on a GPU for real figures)")


if __name__ == "__main__":
    main()
