"""Checkpoint folders for the GPU benchmark: the tokenizer files travel, the weights do not.

The packaged all-MiniLM-L6-v2 is 88 MB, too big to carry to a GPU machine without network.
Its tokenizer and config files are small: `write_tokenizer_files` copies them into a
folder here, and `trainable_checkpoint` turns such a folder, there, into one that
`train_loop_per_worker` loads, with random-init weights where the folder has none.
Random weights run exactly as fast as trained ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, PretrainedConfig

from spoiler_assets.models.transformer_loop import PACKAGED_MINILM, resolve_checkpoint

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def write_tokenizer_files(dest: Path) -> list[Path]:
    """Copy the packaged model's config and tokenizer files (no weights) into `dest`."""
    source = resolve_checkpoint(PACKAGED_MINILM)
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(source / name, dest / name)) for name in ("config.json", *TOKENIZER_FILES)]


def has_weights(folder: Path) -> bool:
    return any((folder / name).exists() for name in WEIGHT_FILES)


def trainable_checkpoint(tokenizer_dir: Path, config: PretrainedConfig, dest: Path, seed: int) -> Path:
    """`dest` holding a random-init two-label classifier of `config` and the tokenizer of
    `tokenizer_dir`: a local checkpoint that `resolve_checkpoint` and the loop accept."""
    missing = [name for name in TOKENIZER_FILES if not (tokenizer_dir / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{tokenizer_dir} lacks {', '.join(missing)}; prepare it with --write-tokenizer-files"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy2(tokenizer_dir / name, dest / name)
    config.num_labels = 2
    torch.manual_seed(seed)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(dest)
    return dest
