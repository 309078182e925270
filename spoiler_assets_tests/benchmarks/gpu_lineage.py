"""GPU script: the text-heavy part of the lineage on the full-size SYNTHETIC corpus.

For a GPU machine with torch and transformers but no Ray, no Dagster and no network:
(a) embeds every review of the corpus (573,913 by default) with the MiniLM encoder as a
    GPU actor of `review_embeddings` would: length-sorted, dynamic-padded batches, bf16
    autocast, mean pooling, L2 norm; stops at `--embed-cap-s` and projects the rest;
(b) runs one epoch of `train_loop_per_worker` (runner "local", no Ray) on the training
    share of the same corpus (the oldest 80%, as `review_split`), validation included.
Figures in samples/s against the plain-PyTorch anchors on one H200 (MiniLM-L6, sequence
256, bf16, batch 256: train 7,720/s, inference 28,783/s). The anchors time a fixed
full-length batch on the GPU only; these figures include tokenizing and padding, and
synthetic reviews (about 1,120 characters) are mostly shorter than 256 tokens.

Weights: the packaged MiniLM where it is installed (88 MB, too big to carry to a GPU
machine), else `--checkpoint-dir` with its config and tokenizer files (made here with
`gpu_transformer_benchmark --write-tokenizer-files DIR`) and random-init weights, which
run exactly as fast. Without a GPU it runs tiny sizes on the CPU ("no GPU: CPU smoke run").

    python -m spoiler_assets_tests.benchmarks.gpu_lineage [--checkpoint-dir DIR] [--reviews N]
        [--embed-cap-s 300] [--skip-train] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as hf_logging

from spoiler_assets.data.formats import parse_review_date
from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.models.transformer_loop import PACKAGED_MINILM, TrainData, autocast, resolve_checkpoint
from spoiler_assets_tests.benchmarks.gpu_checkpoint import has_weights, trainable_checkpoint
from spoiler_assets_tests.benchmarks.gpu_transformer_benchmark import ANCHORS, LoopRun, run_loop

FULL_SIZE = 573_913
TRAIN_SHARE = 0.8  # review_split: the oldest 80% train, the next 10% validate
ANCHOR_TRAIN, ANCHOR_INFER = ANCHORS["MiniLM-L6"]


def read_corpus(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Texts and labels of a SYNTHETIC corpus of `n` reviews, oldest first; lines the
    cleaning step would drop (unparseable, no text, no date) are left out here too."""
    with tempfile.TemporaryDirectory(prefix="spoiler-gpu-corpus-") as folder:
        started = time.perf_counter()
        corpus = generate_corpus(Path(folder), CorpusSpec(n_reviews=n, n_movies=1_572, seed=seed))
        rows = []
        with corpus.reviews_path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    row = json.loads(line)
                    rows.append(
                        (parse_review_date(row["review_date"]), row["review_text"], int(row["is_spoiler"]))
                    )
                except (ValueError, KeyError, TypeError):
                    continue
    rows = [r for r in rows if isinstance(r[1], str) and r[1].strip()]
    rows.sort(key=lambda r: r[0])
    print(
        f"SYNTHETIC corpus: {len(rows):,} usable of {n:,} reviews"
        f" in {time.perf_counter() - started:.0f}s (untimed)"
    )
    return [r[1] for r in rows], [r[2] for r in rows]


def weights_source(checkpoint_dir: Path | None) -> Path:
    if checkpoint_dir is not None:
        if not (checkpoint_dir / "config.json").exists():
            raise SystemExit(f"no config.json in {checkpoint_dir}; prepare it with --write-tokenizer-files")
        return checkpoint_dir
    try:
        return resolve_checkpoint(PACKAGED_MINILM)
    except ImportError:
        raise SystemExit("the packaged MiniLM is not installed here: pass --checkpoint-dir") from None


def load_sentence_encoder(source: Path, device: torch.device) -> PreTrainedModel:
    """MiniLM's transformer body (what SentenceTransformer wraps), weights if the folder has them."""
    if has_weights(source):
        model = AutoModel.from_pretrained(source, local_files_only=True, attn_implementation="sdpa")
    else:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
        torch.manual_seed(0)
        model = AutoModel.from_config(config, attn_implementation="sdpa")
    return model.to(device).eval()


@dataclass(frozen=True)
class EmbedRun:
    reviews: int  # embedded before the cap
    total: int  # in the corpus
    tokenize_s: float
    encode_s: float
    vectors: np.ndarray  # one row per text; zeros where the cap came first
    embedded: np.ndarray  # the rows embedded, in the order they were

    @property
    def per_s(self) -> float:
        return self.reviews / (self.tokenize_s + self.encode_s)

    @property
    def encoder_per_s(self) -> float:
        return self.reviews / self.encode_s


def embed(texts: list[str], source: Path, device: torch.device, args: argparse.Namespace) -> EmbedRun:
    """Embed `texts` until done or past the cap: tokenizing in blocks, then length-sorted batches."""
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    model = load_sentence_encoder(source, device)
    deadline = time.perf_counter() + args.embed_cap_s
    started = time.perf_counter()
    ids, lengths = [], []
    for start in range(0, len(texts), 16_384):
        tokens = tokenizer(
            texts[start : start + 16_384], truncation=True, max_length=args.seq_len,
            padding="max_length", return_tensors="np",
        )  # fmt: skip
        ids.append(tokens["input_ids"].astype(np.int32))
        lengths.append(tokens["attention_mask"].sum(axis=1))
        if time.perf_counter() > deadline:
            break
    input_ids, length = np.concatenate(ids), np.concatenate(lengths)
    tokenize_s = time.perf_counter() - started
    order = np.argsort(-length, kind="stable")
    # Vectors stay on the device until the end: no copy back per batch.
    out = torch.zeros((len(order), model.config.hidden_size), dtype=torch.float32, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    started, done = time.perf_counter(), 0
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(order), args.batch):
            rows = order[start : start + args.batch]
            width = int(-(-length[rows].max() // 8) * 8)  # a multiple of 8 (tensor cores)
            batch = torch.from_numpy(input_ids[rows, :width]).to(device, non_blocking=True).long()
            mask = (batch != tokenizer.pad_token_id).long()
            hidden = model(input_ids=batch, attention_mask=mask).last_hidden_state.float()
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
            out[torch.from_numpy(rows).to(device)] = torch.nn.functional.normalize(pooled, dim=-1)
            done += len(rows)
            if time.perf_counter() > deadline:
                break
    sync()
    encode_s = time.perf_counter() - started
    return EmbedRun(done, len(texts), tokenize_s, encode_s, out.cpu().numpy(), order[:done])


def reference_cosine(texts: list[str], vectors: np.ndarray, source: Path, seq_len: int) -> float | None:
    """Min cosine to SentenceTransformer.encode (fp32) on the first texts, when both exist."""
    if not has_weights(source):
        return None
    try:
        from spoiler_assets.models.embeddings import EncoderSpec, load_encoder
    except ImportError:
        return None
    spec = EncoderSpec(model_path=str(source), max_seq_length=seq_len, runtime="torch")
    reference = load_encoder(spec).encode(
        texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
    )
    return float(np.min(np.sum(reference * vectors, axis=1)))


def fine_tune(texts: list[str], labels: list[int], source: Path, args: argparse.Namespace) -> LoopRun:
    """One epoch of train_loop_per_worker on the oldest `TRAIN_SHARE`, validating on what follows."""
    n_train = int(len(texts) * TRAIN_SHARE)
    n_valid = min(args.valid, len(texts) - n_train)
    data = TrainData(
        texts[:n_train],
        labels[:n_train],
        texts[n_train : n_train + n_valid],
        labels[n_train : n_train + n_valid],
    )
    loop_args = argparse.Namespace(
        cpu_smoke=args.cpu_smoke, loop_epochs=1, loop_batch=args.batch, seq_len=args.seq_len
    )
    print(f"\ntrain_loop_per_worker: one epoch on {n_train:,} reviews, validation on {n_valid:,} ...")
    if has_weights(source):
        return run_loop(source, data, loop_args)
    with tempfile.TemporaryDirectory(prefix="spoiler-gpu-ckpt-") as folder:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
        return run_loop(trainable_checkpoint(source, config, Path(folder), seed=7), data, loop_args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reviews", type=int, default=FULL_SIZE)
    parser.add_argument("--checkpoint-dir", type=Path, help="config + tokenizer files (weights optional)")
    parser.add_argument("--embed-cap-s", type=float, default=300.0, help="stop embedding after this long")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--valid", type=int, default=20_000, help="most validation reviews for the epoch")
    parser.add_argument("--skip-train", action="store_true", help="part (a) only")
    parser.add_argument("--seed", type=int, default=11, help="corpus seed (lineage_benchmark's)")
    parser.add_argument("--out", type=Path, help="folder for gpu_lineage.json")
    args = parser.parse_args()
    hf_logging.disable_progress_bar()
    args.cpu_smoke = not torch.cuda.is_available()
    if args.cpu_smoke:
        print("no GPU: CPU smoke run (tiny sizes; the figures mean nothing)")
        args.reviews, args.batch, args.seq_len, args.valid = min(args.reviews, 300), 16, 32, 32
        torch.set_num_threads(1)  # spinning worker threads crawl on a busy machine; speed is moot here
    device = torch.device("cuda") if not args.cpu_smoke else torch.device("cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}; batch {args.batch}, max length {args.seq_len}")
    source = weights_source(args.checkpoint_dir)
    print(
        f"encoder: {source} ({'its weights' if has_weights(source) else 'random-init weights, same speed'})"
    )
    texts, labels = read_corpus(args.reviews, args.seed)

    run = embed(texts, source, device, args)
    checked = np.sort(run.embedded)[:256]
    cosine = reference_cosine([texts[i] for i in checked], run.vectors[checked], source, args.seq_len)
    projected = run.total / run.per_s
    print(
        f"\n(a) embeddings: {run.reviews:,} of {run.total:,} reviews; tokenizing {run.tokenize_s:.1f}s, "
        f"encoding {run.encode_s:.1f}s; all {run.total:,}: {projected:.0f}s projected"
        + (f"; min cosine to SentenceTransformer.encode (fp32) {cosine:.4f}" if cosine is not None else "")
    )
    figures: dict[str, Any] = {
        "device": name,
        "reviews": run.total,
        "embed": {
            "done": run.reviews,
            "tokenize_s": run.tokenize_s,
            "encode_s": run.encode_s,
            "min_cosine": cosine,
        },
    }
    rows = [
        ("embed, end to end", run.per_s, ANCHOR_INFER),
        ("embed, encoder only", run.encoder_per_s, ANCHOR_INFER),
    ]
    if not args.skip_train:
        loop = fine_tune(texts, labels, source, args)
        valid = loop.valid_samples / loop.valid_s
        figures["train"] = {
            "train_samples": loop.train_samples,
            "epoch_s": loop.metrics["epoch_seconds"] + loop.tail_s,
            "valid_samples": loop.valid_samples,
            "valid_s": loop.valid_s,
            "wall_s": loop.wall_s,
        }
        rows += [
            ("fine-tune epoch", loop.train_synced, ANCHOR_TRAIN),
            ("validation pass", valid, ANCHOR_INFER),
        ]
        print(f"  whole call (load, tokenize, epoch, validation): {loop.wall_s:.0f}s")
    print(f"\n{'MiniLM-L6 on ' + name:<30}{'samples/s':>11}{'H200 anchor':>13}{'ratio':>7}")
    for label, rate, anchor in rows:
        print(f"{label:<30}{rate:>11,.0f}{anchor:>13,}{rate / anchor:>7.3f}")
    figures["rates"] = {label: rate for label, rate, _ in rows}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_lineage.json").write_text(json.dumps(figures, indent=2) + "\n")
    if args.cpu_smoke:
        print("\n(no GPU: CPU smoke run; run on a GPU machine for real figures)")


if __name__ == "__main__":
    main()
