"""Several processes, one job: what the engine needs from ``torchrun`` / ``accelerate launch``.

A launcher that starts ``N`` processes sets ``WORLD_SIZE=N`` (and ``RANK``, ``MASTER_ADDR``, ...)
in each. The engine then runs one data-parallel job (DDP; gloo on CPU, NCCL on GPUs): every
process trains on its slice of each global batch (``train.batch_size`` per process, so the global
batch is ``batch_size x world``), evaluates its share of the rows (gathered on every process,
each row exactly once), and only the main process writes files.

``accelerate launch --cpu --num_processes N`` (N > 1) does *not* start N processes: Accelerate runs
several CPU processes only through ``mpirun`` (``--mpirun_hostfile``), and otherwise starts the
script once. :func:`refuse_single_process_launch` turns that silent single-process run into an
error that says what to use instead.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from ..errors import ConfigError

MPI_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")

ASK_FOR_MULTI = ("use 'torchrun --nproc_per_node N -m codekd ...' or 'accelerate launch --multi_gpu --num_processes N "
                 "-m codekd ...' (without --cpu: on a machine without GPUs it runs N CPU processes with gloo)")


WORLD_VARS = ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")  # torchrun, then MPI
RANK_VARS = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")


def _first_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        try:
            return int(os.environ[name])
        except (KeyError, ValueError):
            continue
    return default


def launch_world() -> int:
    """The number of processes the launcher started (1 without a launcher)."""
    return max(1, _first_int(WORLD_VARS, 1))


def is_distributed() -> bool:
    return launch_world() > 1


def refuse_single_process_launch() -> None:
    """Refuse ``accelerate launch --cpu --num_processes N`` (N > 1), which starts one process only.

    Its sign: Accelerate's simple launcher set ``ACCELERATE_USE_CPU`` and, because N > 1,
    ``MASTER_ADDR``, but there is no ``WORLD_SIZE`` and no MPI launcher around the process.
    """
    env = os.environ
    if "WORLD_SIZE" in env or any(v in env for v in MPI_SIZE_VARS):
        return
    if env.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") and "MASTER_ADDR" in env:
        raise ConfigError("'accelerate launch --cpu --num_processes N' starts a single process (Accelerate runs "
                          "several CPU processes only under mpirun), so this would not be one distributed job; "
                          + ASK_FOR_MULTI)


def process_state(cpu: bool) -> Any:
    """Accelerate's process state (it creates the process group); None in a single process."""
    if not is_distributed():
        return None
    from accelerate import PartialState

    return PartialState(cpu=cpu)


def is_main_process() -> bool:
    return _first_int(RANK_VARS, 0) == 0


def _initialized() -> bool:
    import torch

    return torch.distributed.is_available() and torch.distributed.is_initialized()


def barrier() -> None:
    import torch

    if _initialized():
        torch.distributed.barrier()


@contextlib.contextmanager
def main_first(cpu: bool = True) -> Iterator[None]:
    """The main process runs the block first (e.g. writes a vocabulary), the others after it."""
    if not is_distributed():
        yield
        return
    process_state(cpu)
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` of every process, in rank order (``[obj]`` in a single process)."""
    import torch

    if not _initialized():
        return [obj]
    out: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


__all__ = ["launch_world", "is_distributed", "refuse_single_process_launch", "process_state", "is_main_process",
           "barrier", "main_first", "gather_objects"]
