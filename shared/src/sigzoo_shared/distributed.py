"""DDP under torchrun: read the environment torchrun sets, start the process group, wrap the model.

There is no home-made launcher: `torchrun --nproc_per_node=N -m <pkg>.cli train ...` starts N processes, each
of which calls `init_distributed()`. Outside torchrun every helper here degrades to single-process behaviour,
so the Trainer runs unchanged in both worlds. gloo on CPU, nccl on CUDA.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def _process_group() -> Any:
    """`torch.distributed` when a process group is running, else None.

    torch is imported lazily: if nothing has imported `torch.distributed` yet, no process group can
    exist, so rank queries from the CLI (logging setup before dispatch) stay free of torch's import cost.
    """
    if "torch.distributed" not in sys.modules:
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def env_world_size() -> int:
    """World size announced by torchrun (1 when not launched by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    """True once a process group with more than one process is running."""
    dist = _process_group()
    return dist is not None and dist.get_world_size() > 1


def rank() -> int:
    dist = _process_group()
    if dist is not None:
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    dist = _process_group()
    return dist.get_world_size() if dist is not None else 1


def is_rank_zero() -> bool:
    """Only rank 0 logs, draws progress bars and writes files."""
    return rank() == 0


def init_distributed(device: torch.device) -> bool:
    """Start the process group when launched by torchrun with WORLD_SIZE > 1; return whether it did.

    The backend follows the device: nccl for CUDA (after pinning this process to its local GPU), gloo
    otherwise. Calling it twice is harmless.
    """
    import torch
    import torch.distributed as dist

    if env_world_size() <= 1 or not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend)
    log.info("DDP: rank %d of %d, backend %s", rank(), world_size(), backend)
    return True


def distributed_device(device: torch.device) -> torch.device:
    """Each rank uses its own GPU under torchrun; CPU and MPS stay as they are."""
    if device.type == "cuda" and env_world_size() > 1:
        import torch

        return torch.device("cuda", local_rank())
    return device


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when a process group is running, else return the model."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The user's module behind a DDP wrapper (what gets checkpointed)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def all_reduce_mean(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average a dict of floats over ranks, so every rank takes the same early-stopping decision."""
    if not is_distributed() or not values:
        return values
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= dist.get_world_size()
    return {k: float(v) for k, v in zip(keys, t.tolist())}


def broadcast_object(obj: Any) -> Any:
    """Send a picklable object from rank 0 to all ranks (e.g. the run directory chosen on rank 0)."""
    if not is_distributed():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    dist = _process_group()
    if dist is not None and dist.get_world_size() > 1:
        dist.barrier()


def cleanup_distributed() -> None:
    dist = _process_group()
    if dist is not None:
        dist.destroy_process_group()
