"""Faults injected into Ray worker processes (as a `worker_process_setup_hook`)."""

import uuid
from pathlib import Path
from typing import Any


def fail_checkpoints_after_first_epoch(record_dir: str, failures: int) -> None:
    """In this worker, the checkpoint of every epoch after the first fails until `failures`
    such failures have happened (counted across processes in `record_dir`). Every save
    leaves a `save-<epoch>-from-<start epoch>-...` file, so a test sees where each attempt
    started."""
    from spoiler_assets.models import transformer_loop

    original = transformer_loop._save
    records = Path(record_dir)

    def save(folder: Path, **parts: Any) -> None:
        last = parts["state"].history[-1]
        (records / f"save-{last['epoch']}-from-{last['start_epoch']}-{uuid.uuid4().hex[:6]}").touch()
        done = len(list(records.glob("failure-*")))
        if last["epoch"] > 1 and done < failures:
            (records / f"failure-{done}").touch()
            raise RuntimeError(f"injected failure {done + 1} of {failures} after a saved epoch")
        original(folder, **parts)

    transformer_loop._save = save  # type: ignore[assignment]
