"""FSDP for the training loop: sharding a Hugging Face encoder across the workers, and
the collective steps a sharded model needs where a replicated one needs none (a full
state for the checkpoint, the optimizer state back on resume).

Torch FSDP2 (`fully_shard`) directly rather than Ray Train's `prepare_model(...,
parallel_strategy="fsdp")`: Ray's refuses to run without CUDA, while torch shards on CPU
too (gloo), so the same code is tested here and runs on GPUs (NCCL).
"""

from __future__ import annotations

from typing import Any

import torch


def is_sharded(model: torch.nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def shard(model: torch.nn.Module, device: torch.device, world: int) -> torch.nn.Module:
    """`model` (already on `device`) sharded over `world` ranks: each transformer block
    (the classes Hugging Face names in `_no_split_modules`) is one FSDP unit, the
    embeddings and the classifier head the root's. Its class is FSDP's subclass of the
    original, so it is still the Hugging Face model (no wrapper to unwrap)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device.type, (world,))
    blocks = set(getattr(model, "_no_split_modules", None) or ())
    for module in list(model.modules())[1:]:
        if type(module).__name__ in blocks:
            fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def full_states(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole model's and optimizer's state, gathered from the shards: a collective,
    so every rank calls it; rank 0 gets them (on CPU), the others empty dicts."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return (
        get_model_state_dict(model, options=options),
        get_optimizer_state_dict(model, optimizer, options=options),
    )


def load_full_optimizer_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Each rank takes its shard of a full optimizer state saved by `full_states`."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def parameter_checksum(model: torch.nn.Module) -> float:
    """The sum of every parameter (the full tensor where sharded: a collective then): equal
    on every rank exactly when the ranks hold the same weights."""
    total = 0.0
    with torch.no_grad():
        for param in model.parameters():
            full = param.full_tensor() if hasattr(param, "full_tensor") else param
            total += float(full.double().sum())
    return total
