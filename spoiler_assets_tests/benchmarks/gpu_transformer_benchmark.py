"""Benchmark: the transformer's training step and inference, samples/s on one GPU.

Runs the training step of `train_loop_per_worker` (bf16 autocast, SDPA attention, fused
AdamW, class-weighted loss, gradient clipping) and the classifier's batched inference on
random-init weights from the MiniLM-L6 and DistilBERT configs, at sequence length 256
and batch 256, and compares them with the anchors measured on one H200. Needs torch
and transformers only: no Ray, no network, no trained weights. Not a test: it prints.

    python -m spoiler_assets_tests.benchmarks.gpu_transformer_benchmark            # GPU
    python -m spoiler_assets_tests.benchmarks.gpu_transformer_benchmark --cpu-smoke
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    BertConfig,
    DistilBertConfig,
    PretrainedConfig,
)

from spoiler_assets.models.transformer import (
    PACKAGED_MINILM,
    autocast,
    make_optimizer,
    pick_device,
    resolve_checkpoint,
    train_step,
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
    args = parser.parse_args()
    if args.cpu_smoke:
        args.batch, args.seq_len, args.warmup, args.steps = 4, 32, 1, 2
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
    if args.cpu_smoke:
        print("\n(CPU smoke: tiny shapes, the ratios mean nothing; run on a GPU for real figures)")


if __name__ == "__main__":
    main()
