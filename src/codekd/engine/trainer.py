"""The one training loop (Hugging Face Accelerate), used by teacher fine-tuning and every method.

Callers build a :class:`TrainJob` and hand it to :func:`run_training`:
:func:`codekd.engine.runs.finetune_teacher` (a teacher, trained with FT's cross-entropy),
:func:`codekd.engine.runs.distill` (a student, any method) and :func:`codekd.pretrain.mlm.run_pretrain`
(masked-LM pre-training, with its own ``evaluate``).

:func:`_run_training` reads as the run's steps (methods of :class:`_Run`): open the folder (or
resume), choose threads and precision, start Accelerate, plan the steps, prepare the optimizer,
place the teacher, start the clock; then per epoch ``train_epoch`` (``train_step`` and
``after_step`` per batch) and ``end_epoch`` (validation, selection, checkpoint); then ``test`` and
``write_result``.

What it does, in order: seeds Python/NumPy/torch; builds AdamW (no decay on biases and LayerNorm)
with a linear warm-up schedule; prepares the trainable model (the student plus any method modules,
or the teacher being fine-tuned) with Accelerate (CPU, one GPU, or DDP / mixed precision under
``accelerate launch``). A frozen teacher stays outside: ``eval()``, ``requires_grad_(False)``, run
under ``torch.no_grad()``, never prepared, never in the optimizer. Each epoch runs length-bucketed,
dynamically padded batches in an order fixed by ``(seed, epoch)``, clips gradients, validates,
keeps the best epoch by the task's selection score (validation only), and checkpoints atomically
(every ``checkpoint_every`` steps and at each epoch end). The test split is evaluated once, at the
end, with the best weights. An interrupted run resumes from its checkpoint and ends with the same
weights and metrics as an uninterrupted one; a finished run folder is not redone.

Run folder: ``config.yaml``, ``log.jsonl``, ``checkpoint/``, ``best/`` (Hugging Face folder),
``metrics.json``. The ``start`` event of ``log.jsonl`` records the method's resolved settings,
including the layer map of the feature-based methods.

Method modules (e.g. PKD's projections) are trained with the student (in the optimizer and the
checkpoint) but ``best/`` holds the student only. With ``transfer`` data (see
:mod:`codekd.engine.transfer`) each step also draws a batch of unlabeled transfer examples and adds
``weight x method.loss(student, teacher, labels=None)`` (teacher-output terms only) before the
backward pass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..config import RunConfig, dump_yaml
from ..data.loaders import Split, TaskData
from ..errors import ConfigError
from ..metrics import classification_metrics, headline, selection_score
from ..sanity import degeneracy
from ..io import atomic_dir, atomic_write_json, atomic_write_text, read_json, tidy
from ..methods.base import Method, Outputs
from ..tasks import Task
from .batching import Collator, code_lengths, epoch_batches, eval_batches, to_device
from .dist import (ASK_FOR_MULTI, barrier, gather_objects, is_distributed, is_main_process, launch_world,
                   process_state, refuse_single_process_launch)
from .budget import choose_precision, plan_steps, probe_step, time_step
from .progress import fmt_seconds
from .progress import progress as progress_display
from .sides import ModelSide, predict_logits
from .threads import default_threads
from .transfer import transfer_batch

CHECKPOINT = "checkpoint"
BEST = "best"
METRICS = "metrics.json"
STATE = "trainer_state.json"
RANK_RNG = "rank_rng.pt"  # every process's random state (DDP), in rank order


class Interrupted(Exception):
    """Raised by ``stop_after`` (a simulated interruption for tests) after the checkpoint is written."""


@dataclass
class TrainJob:
    """Everything the loop needs; built by :mod:`codekd.engine.runs` (teacher fine-tuning,
    distillation) and :mod:`codekd.pretrain.mlm` (masked-LM pre-training)."""

    cfg: RunConfig
    task: Task
    data: TaskData
    student: ModelSide                       # the trainable side (a student, or a teacher being fine-tuned)
    method: Method
    save_best: Callable[[nn.Module, Path], None]
    load_best: Callable[[Path], nn.Module]
    teacher: ModelSide | None = None         # frozen live teacher
    # teacher-cache lookup (split, row index) -> Outputs (logits, and pooled states when cached)
    teacher_outputs: Callable[[str, torch.Tensor], Outputs] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    transfer: Any = None                     # unlabeled transfer set (engine.transfer.TransferSet), live teacher only
    transfer_weight: float = 1.0
    transfer_batch_size: int | None = None
    # Other objectives (masked-LM pre-training): ``evaluate(model, split, device)`` returns
    # ``(metrics, selection score)`` (higher is better) and replaces the classification metrics on
    # the validation and test splits; it must not draw from the global random generators.
    evaluate: Callable[[nn.Module, Any, torch.device], tuple[dict[str, Any], float]] | None = None
    eval_every: int | None = None            # also evaluate (and log an "eval" event) every N steps
    eval_initial: bool = False               # evaluate the untrained model once (logged as step 0)
    max_train_seconds: float | None = None   # time budget: stop after the step that crosses it
    # a context the speed probe runs in (e.g. a frozen-prefix side computes instead of replaying)
    probe_context: Callable[[], Any] | None = None


def config_hash(cfg: RunConfig) -> str:
    """Stable key of a run's resolved config (the output folder itself excluded)."""
    d = cfg.model_dump(mode="json")
    d.pop("out", None)
    for key in ("transfer", "pretrain"):  # keep the hashes of configs written before these fields existed
        if d.get(key, "absent") is None:
            d.pop(key)
    d.get("train", {}).pop("precision", None)  # stored as train.mixed_precision (one value, whichever name set it)
    for section, key in (("train", "minutes"), ("train", "layer_lr_decay"), ("train", "eval_every"),
                         ("train", "early_stopping_patience"), ("teacher", "freeze_layers"), ("teacher", "lora"),
                         ("teacher", "dtype"), ("teacher", "device_map"), ("train", "flush_denormal")):
        if d.get(section, {}).get(key, "absent") is None:
            d[section].pop(key)
    for key in ("report_to", "log_every_s"):  # where progress and scalars are shown: never part of the result
        d.get("train", {}).pop(key, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _rng_state() -> dict[str, Any]:
    st: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state()
    return st


def _set_rng_state(st: dict[str, Any]) -> None:
    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state(st["cuda"])


def _as_float(obj: Any) -> Any:
    """Half-precision tensors (a bf16/fp16 teacher's outputs) as float32, for the method's loss."""
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.is_floating_point() else obj
    if isinstance(obj, (tuple, list)):
        return type(obj)(_as_float(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _as_float(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: _as_float(getattr(obj, f.name)) for f in dataclasses.fields(obj)})
    return obj


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def finished_metrics(out: str | Path, cfg: RunConfig | None = None) -> dict[str, Any] | None:
    """The metrics of a finished run in ``out`` (same config), or None."""
    p = Path(out) / METRICS
    if not p.is_file():
        return None
    m = read_json(p, "run metrics")
    if not isinstance(m, dict) or m.get("status") != "done":
        return None
    if cfg is not None and m.get("config_hash") != config_hash(cfg):
        return None
    return m


LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers)\.(\d+)\.")


def layer_depths(module: nn.Module) -> dict[str, int]:
    """Depth of every parameter for layer-wise LR decay: embeddings 0, layer i -> i + 1, the rest
    (pooler, head, method modules) L + 1."""
    found: dict[str, int | None] = {}
    for name, _ in module.named_parameters():
        m = LAYER_INDEX.search(name)
        found[name] = int(m.group(1)) + 1 if m else (0 if "embeddings" in name else None)
    top = max([d for d in found.values() if d is not None], default=0) + 1
    return {n: (top if d is None else d) for n, d in found.items()}


def _param_groups(module: nn.Module, weight_decay: float, lr: float | None = None,
                  layer_decay: float | None = None) -> list[dict[str, Any]]:
    """AdamW groups: no decay on biases and norms; with ``layer_decay`` one LR per depth
    (``lr x layer_decay^(top - depth)``)."""
    depths = layer_depths(module) if layer_decay is not None else {}
    top = max(depths.values(), default=0)
    groups: dict[tuple[bool, int], dict[str, Any]] = {}
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        no_dec = p.ndim < 2 or "norm" in name.lower() or name.endswith(".bias")
        depth = depths.get(name, top)
        g = groups.setdefault((no_dec, depth), {"params": [], "weight_decay": 0.0 if no_dec else weight_decay})
        if layer_decay is not None and lr is not None:
            g["lr"] = lr * layer_decay ** (top - depth)
        g["params"].append(p)
    if layer_decay is None:  # the two classic groups, in their classic order
        return [groups.get((False, top), {"params": [], "weight_decay": weight_decay}),
                groups.get((True, top), {"params": [], "weight_decay": 0.0})]
    return [groups[k] for k in sorted(groups)]


class _Trainable(nn.Module):
    """The prepared (possibly DDP-wrapped, autocast) module: the trainable model plus method modules.

    Its forward runs the trainable side, so DDP's gradient sync and Accelerate's autocast apply.
    """

    def __init__(self, side: ModelSide, aux: nn.Module | None):
        super().__init__()
        self.model = side.model
        self.aux = aux if aux is not None else nn.ModuleDict()
        self._side_forward = side.forward

    def forward(self, encoding: dict[str, torch.Tensor], hidden: bool) -> Outputs:
        return self._side_forward(self.model, encoding, hidden)


def _grad_norm(params: list[nn.Parameter]) -> float:
    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


class _Log:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: str, **fields: Any) -> None:
        rec = {"time": round(time.time(), 3), "event": event, **fields}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, default=float) + "\n")


def _make_accelerator(cfg: RunConfig, precision: str | None = None):
    # accelerate takes seconds to import: only when a run starts
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration

    # under DDP: some trainable parameters may not enter a step's loss (a pooler that mean pooling skips,
    # a frozen-prefix teacher's replayed layers, method modules of one loss term); DDP must not wait for them
    kwargs: dict[str, Any] = {"kwargs_handlers": [DistributedDataParallelKwargs(find_unused_parameters=True)]}
    if cfg.train.trackers:
        kwargs["log_with"] = cfg.train.trackers
        kwargs["project_config"] = ProjectConfiguration(project_dir=cfg.out, logging_dir=str(Path(cfg.out) / "trackers"))
    try:
        return Accelerator(cpu=cfg.train.cpu or not torch.cuda.is_available(),
                           mixed_precision=precision or cfg.train.mixed_precision,
                           gradient_accumulation_steps=cfg.train.grad_accum,
                           step_scheduler_with_optimizer=False, **kwargs)
    except ValueError as exc:  # AcceleratorState is process-global (STACK-NOTES)
        if "already been initialized" in str(exc):
            from accelerate.state import AcceleratorState

            AcceleratorState._reset_state(True)
            return Accelerator(cpu=cfg.train.cpu or not torch.cuda.is_available(),
                               mixed_precision=precision or cfg.train.mixed_precision,
                               gradient_accumulation_steps=cfg.train.grad_accum,
                           step_scheduler_with_optimizer=False, **kwargs)
        raise


REPLAN_AFTER = 20  # steps into every epoch, the time plan is remade from the measured speed
TEST_OVERHEAD_S = 2.0  # seconds a budgeted plan keeps for the test pass's fixed costs (load, save) beside its own time


def planned_linear(step: int, total: int, warmup_ratio: float, anchor: tuple[int, float] | None = None,
                   warmup_steps: int | None = None) -> float:
    """The LR factor of a linear warm-up and decay to ``total`` steps (as transformers' linear schedule).

    ``anchor`` ``(step_a, factor_a)``: the plan was remade at ``step_a``, where the factor was
    ``factor_a``; from there it decays linearly to 0 at the new ``total``, so a longer plan never
    raises the learning rate again. ``warmup_steps``: the warm-up length a plan fixed (default
    ``warmup_ratio * total``)."""
    if anchor is not None and step >= anchor[0]:
        step_a, factor_a = anchor
        return max(0.0, factor_a * float(total - step) / float(max(1, total - step_a)))
    warm = int(warmup_ratio * total) if warmup_steps is None else int(warmup_steps)
    if step < warm:
        return float(step) / float(max(1, warm))
    return max(0.0, float(total - step) / float(max(1, total - warm)))


def _plan_factor(plan: dict[str, Any], step: int, warmup_ratio: float) -> float:
    anchor = plan.get("anchor")
    return planned_linear(step, int(plan["total_steps"]), warmup_ratio, tuple(anchor) if anchor else None,
                          plan.get("warmup_steps"))


def _speed_probe(job: TrainJob, trainable: nn.Module, split: Split, lengths: np.ndarray, n: int,
                 needs_hidden: bool) -> Callable[[bool], None]:
    """A forward + backward of the trainable side on one real training batch of median length."""
    order = np.argsort(lengths[:n], kind="stable")
    mid = len(order) // 2
    rows = order[max(0, mid - job.cfg.train.batch_size // 2):][: job.cfg.train.batch_size].tolist()
    batch = Collator(split, job.cfg.normalization, {"student": job.student.encode})(rows)
    step = probe_step(trainable, batch, needs_hidden)
    if job.probe_context is None:
        return step

    def in_context(bf16: bool) -> None:
        with job.probe_context():
            step(bf16)

    return in_context


def _eval_estimate(step_s: float, n: int, tc: Any) -> float:
    """Seconds of one evaluation pass before any was measured: forward only, about 1/3 of a train step."""
    n = n if tc.eval_max_examples is None else min(n, tc.eval_max_examples)
    return n / tc.batch_size * step_s / 3


def _test_size(job: TrainJob) -> int:
    test = job.data.splits.get("test")
    return len(test) if test is not None else 0


def _replan(state: dict[str, Any], budget_s: float, elapsed_s: float, done: int, step_s: float,
            steps_per_epoch: int, max_total: int, warmup_ratio: float = 0.1) -> None:
    """Remake the time plan (in place: the LR schedule reads it) from the measured seconds per step.

    The factor rises through the warm-up, then never rises again: past the warm-up the schedule is
    re-anchored at this step's factor; inside it, a shorter plan ends the warm-up sooner (at this step
    at the latest, re-anchored there) and a longer one keeps the warm-up it had (never a drop)."""
    plan = state["plan"]
    warm = plan.get("warmup_steps")
    if warm is None:
        warm = int(warmup_ratio * int(plan["total_steps"]))
    eval_s = plan.get("eval_s")
    if eval_s is None:
        eval_s = plan.get("eval_estimate_s", 0.0)
    total = plan_steps(budget_s=budget_s, elapsed_s=elapsed_s, done_steps=done, step_s=step_s, eval_s=eval_s,
                       steps_per_epoch=steps_per_epoch, max_steps=max_total, test_s=plan.get("test_s", 0.0))
    factor = _plan_factor(plan, done, warmup_ratio)
    if done < warm:
        warm = min(warm, int(warmup_ratio * total))
    if done >= warm:
        plan["anchor"] = [done, factor]
        warm = min(warm, done)
    plan.update(total_steps=total, step_s=step_s, warmup_steps=warm)
    plan["replans"].append({"step": done, "elapsed_s": round(elapsed_s, 1), "step_s": round(step_s, 4),
                            "total_steps": total})


def _summary_writer_class():
    """torch's SummaryWriter (``train.report_to: tensorboard``), or a one-line error naming the package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("train.report_to=tensorboard needs the tensorboard package: "
                          "pip install 'codekd[tensorboard]' (or pip install tensorboard)") from None
    return SummaryWriter


class _Scalars:
    """Where the loop's scalars go: ``train.report_to: tensorboard`` (a SummaryWriter in
    OUT/tensorboard) and any Accelerate ``train.trackers`` (OUT/trackers). Main process only."""

    def __init__(self, writer: Any = None, accelerator: Any = None):
        self.writer, self.accelerator = writer, accelerator

    def __call__(self, prefix: str, values: dict[str, Any], step: int) -> None:
        vals = {f"{prefix}/{k}": float(v) for k, v in values.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}
        if self.writer is not None:
            for k, v in vals.items():
                self.writer.add_scalar(k, v, step)
        if self.accelerator is not None and vals:
            self.accelerator.log(vals, step=step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def run_training(job: TrainJob, *, resume: bool = True, progress: bool = True, stop_after: int | None = None) -> dict[str, Any]:
    """Train, validate each epoch, keep the best, test once; resumable. Returns the final metrics.

    ``stop_after`` simulates an interruption right after the checkpoint at that optimizer step
    (raises :class:`Interrupted`); used by the resume tests. The process's torch thread count is
    set for the run (:mod:`.threads`) and put back afterwards.
    """
    threads_before = torch.get_num_threads()
    flush = job.cfg.train.flush_denormal
    # subnormal floats (gradients that shrink through hundreds of BiGRU time steps) make every CPU
    # multiply that meets them ~100x slower: gru-1.5m at 256 tokens took 6.7 s a step, 0.95 s flushed
    set_flush = torch.set_flush_denormal(True if flush is None else bool(flush))
    try:
        return _run_training(job, resume=resume, progress=progress, stop_after=stop_after)
    finally:
        torch.set_num_threads(threads_before)
        if set_flush:
            torch.set_flush_denormal(False)  # the process default


def _run_training(job: TrainJob, *, resume: bool, progress: bool, stop_after: int | None) -> dict[str, Any]:
    """The run's steps, in order; :class:`_Run` holds what they share."""
    done = finished_metrics(job.cfg.out, job.cfg)
    if done is not None and resume:
        return done
    run = _Run(job, stop_after)
    run.open_folder(resume)
    run.choose_threads_and_precision()
    run.start_accelerator()
    run.plan_steps()
    run.prepare_optimizer()
    run.place_teacher()
    run.start_clock()
    with progress_display(progress and run.accelerator.is_main_process, run.tc.log_every_s) as prog:
        for epoch in range(int(run.state["epoch"]), run.tc.epochs):
            if run.stops_before_epoch():
                break
            run.end_epoch(run.train_epoch(epoch, prog))
        train_seconds = time.perf_counter() - run.t_start
        test_metrics = run.test(prog)
    return run.write_result(test_metrics, train_seconds)


@dataclass
class _StepPlan:
    """How many batches and optimizer steps the run makes (before any time budget revises them)."""

    global_bs: int           # rows of one step's batch over all processes
    batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int         # the schedule's length (the time plan's, under a budget)
    max_total: int           # what the epochs and max_steps allow
    budget_s: float | None   # train.minutes, in seconds


@dataclass
class _Epoch:
    """One epoch as it runs: its batches, where it (re)started, its clocks and losses."""

    epoch: int
    batches: list[list[int]]
    start: int               # first batch (a resumed epoch starts inside)
    bar: Any
    t_epoch: float
    cpu_epoch: float
    seen_before: int         # rows of the batches a resumed epoch skipped
    seen: int = 0
    running: list[float] = field(default_factory=list)
    train_loop_seconds: float = 0.0
    train_loop_cpu_seconds: float = 0.0


class _Run:
    """One training run: its folder, state and resources, filled in by the steps of :func:`_run_training`."""

    def __init__(self, job: TrainJob, stop_after: int | None = None):
        self.job, self.cfg, self.tc = job, job.cfg, job.cfg.train
        self.stop_after = stop_after
        self.out = Path(self.cfg.out)
        self.ckpt = self.out / CHECKPOINT
        self.chash = config_hash(self.cfg)

    # ---- set-up / resume

    def open_folder(self, resume: bool) -> None:
        """Join the process group, tidy the folder, read a checkpoint's state, write config.yaml, seed."""
        cfg, tc, out, ckpt = self.cfg, self.tc, self.out, self.ckpt
        refuse_single_process_launch()
        self.cuda = not tc.cpu and torch.cuda.is_available()
        self.distributed = is_distributed()  # several processes, one job: every rank must choose the same
        process_state(cpu=not self.cuda)  # the process group, before any file is touched (main writes, all read)
        self.main = is_main_process()
        state: dict[str, Any] = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_score": None,
                                 "best_epoch": None, "history": [], "train_seconds": 0.0, "config_hash": self.chash}
        if self.main:
            out.mkdir(parents=True, exist_ok=True)
            # a checkpoint or best/ left hidden by a kill between two renames is put back; dead processes'
            # temporary folders and files are removed
            tidy(out, (CHECKPOINT, BEST, "vocab", METRICS, "config.yaml", "test_logits.npy", "baseline.json"))
            resuming = resume and (ckpt / STATE).is_file()
            if not resuming and ckpt.exists():
                shutil.rmtree(ckpt)
        barrier()
        self.resuming = resume and (ckpt / STATE).is_file()
        if self.resuming:
            saved = read_json(ckpt / STATE, "checkpoint state")
            if saved.get("config_hash") != self.chash:
                raise ConfigError("the run folder holds a checkpoint of a different config; use another --out "
                                  "or delete the folder", path=out)
            state = saved
        self.state = state
        barrier()  # every rank has read the checkpoint state before anything can replace it
        if self.main:
            atomic_write_text(out / "config.yaml", dump_yaml(cfg))
        self.log = _Log(out / "log.jsonl") if self.main else (lambda event, **fields: None)
        # before any work: a missing package is a one-line error now, not after the training
        self.summary_writer = _summary_writer_class() if tc.report_to == "tensorboard" else None
        set_seed(tc.seed)

    def choose_threads_and_precision(self) -> None:
        """The trainable module, the CPU threads and the precision (timed on a real batch when asked)."""
        job, cfg, tc, state = self.job, self.cfg, self.tc, self.state
        self.trainable = _Trainable(job.student, job.method.modules())
        # CPU threads: the config's, else the run's first choice (kept on resume), else the free cores (.threads)
        if tc.num_threads:
            state["threads"], state["threads_reason"] = tc.num_threads, "train.num_threads"
        elif "threads" not in state:
            state["threads"], state["threads_reason"] = default_threads(
                sum(p.numel() for p in self.trainable.parameters() if p.requires_grad))
        torch.set_num_threads(int(state["threads"]))
        self.train_split, self.valid_split = job.data["train"], job.data["valid"]
        n = len(self.train_split)
        self.n_train = n if tc.train_max_examples is None else min(n, tc.train_max_examples)
        self.lengths = code_lengths(self.train_split, cfg.normalization)[:self.n_train]
        self.valid_lengths = code_lengths(self.valid_split, cfg.normalization)
        self.needs_hidden = job.method.needs.hidden_states or job.method.needs.pooled_states
        self.probe = None
        if not self.distributed and ((tc.mixed_precision == "auto" and "precision" not in state and not self.cuda)
                                     or (tc.minutes and "plan" not in state)):
            self.probe = _speed_probe(job, self.trainable, self.train_split, self.lengths, self.n_train,
                                      self.needs_hidden)
        if "precision" not in state:
            requested = "no" if tc.mixed_precision == "auto" and self.distributed and not self.cuda else tc.mixed_precision
            precision, why = choose_precision(requested, cuda=self.cuda, step=self.probe)
            state["precision"], state["precision_info"] = precision, why
        self.precision = state["precision"]

    def start_accelerator(self) -> None:
        """Accelerate for this precision; the checks of the process count; each rank's own seed."""
        tc, state = self.tc, self.state
        self.accelerator = _make_accelerator(self.cfg, self.precision)
        self.device = self.accelerator.device
        if self.precision == "fp16" and self.device.type == "cpu":
            # Accelerate turns fp16 off on a CPU without a word (no autocast, no gradient scaler): say so instead
            raise ConfigError("train.precision fp16 needs a GPU (fp16 with a gradient scaler runs on CUDA only); on a "
                              "CPU use bf16 or fp32")
        self.world, self.rank = self.accelerator.num_processes, self.accelerator.process_index
        world, rank = self.world, self.rank
        if world != launch_world():
            raise ConfigError(f"the launcher started {launch_world()} processes but Accelerate formed a job of {world}; "
                              + ASK_FOR_MULTI)
        if self.resuming and int(state.get("world_size", 1)) != world:
            raise ConfigError(f"the checkpoint was written by {state.get('world_size', 1)} process(es); resume it with "
                              f"as many (this launch has {world}): the batches of a step depend on it", path=self.out)
        state["world_size"] = world
        if world > 1 and (tc.minutes or self.job.max_train_seconds is not None):
            raise ConfigError("a time budget (train.minutes) is not supported with several processes: each would plan "
                              "and stop by its own clock; use train.max_steps")
        if rank:  # the same initial weights everywhere (DDP broadcasts rank 0's), but each rank its own dropout
            set_seed(tc.seed + 100_003 * rank)

    # ---- plan the steps

    def plan_steps(self) -> None:
        """Batches per epoch and optimizer steps; under ``train.minutes`` the first time plan (kept on resume)."""
        tc, state, world, n_train = self.tc, self.state, self.world, self.n_train
        # one global batch of batch_size x world rows per step, cut into one slice per process (a global batch
        # too short to give every process a row is left out): the same batches as one process at that batch size
        global_bs = tc.batch_size * world
        batches_per_epoch = math.ceil(n_train / global_bs)
        if batches_per_epoch and n_train - (batches_per_epoch - 1) * global_bs < world:
            batches_per_epoch -= 1
        if tc.grad_accum > 1:  # whole accumulation groups only, so every epoch ends on an optimizer step
            batches_per_epoch = max(tc.grad_accum, batches_per_epoch - batches_per_epoch % tc.grad_accum)
        steps_per_epoch = max(1, math.ceil(batches_per_epoch / tc.grad_accum))
        total_steps = steps_per_epoch * tc.epochs if tc.max_steps is None else min(tc.max_steps, steps_per_epoch * tc.epochs)
        max_total = total_steps
        budget_s = 60.0 * tc.minutes if tc.minutes else None
        if budget_s is not None:
            if "plan" not in state:  # first estimate from the probe (forward + backward; the optimizer step is extra)
                timed = state["precision_info"].get("probe")
                if timed is None:
                    timed = time_step(self.probe, rounds=1) if self.probe is not None else {"fp32_s": 1.0, "bf16_s": 1.0}
                per_step = timed["bf16_s" if self.precision == "bf16" else "fp32_s"] * tc.grad_accum * 1.15
                eval_s = _eval_estimate(per_step, len(self.valid_split), tc)
                test_s = _eval_estimate(per_step, _test_size(self.job), tc) + TEST_OVERHEAD_S
                # the same test reserve as every later replan (a first plan without it was cut by the first replan)
                state["plan"] = {"budget_s": budget_s, "total_steps": plan_steps(
                    budget_s=budget_s, elapsed_s=0.0, done_steps=0, step_s=per_step, eval_s=eval_s,
                    steps_per_epoch=steps_per_epoch, max_steps=max_total, test_s=test_s),
                    "step_s": per_step, "replans": [], "eval_estimate_s": eval_s, "test_s": test_s}
                state["plan"]["warmup_steps"] = int(tc.warmup_ratio * state["plan"]["total_steps"])
            total_steps = int(state["plan"]["total_steps"])
        self.plan = _StepPlan(global_bs, batches_per_epoch, steps_per_epoch, total_steps, max_total, budget_s)

    def planned_total(self) -> int:
        """The steps the run will make as planned now (a time plan may have revised them)."""
        return int(self.state["plan"]["total_steps"]) if self.plan.budget_s is not None else self.plan.total_steps

    def prepare_optimizer(self) -> None:
        """AdamW and the LR schedule, prepared with the trainable module; a checkpoint's states loaded."""
        tc, state, accelerator, ckpt, world = self.tc, self.state, self.accelerator, self.ckpt, self.world
        optimizer = torch.optim.AdamW(_param_groups(self.trainable, tc.weight_decay, tc.lr, tc.layer_lr_decay), lr=tc.lr)
        if self.plan.budget_s is None:
            from transformers import get_linear_schedule_with_warmup  # (transformers is slow to import)

            total_steps = self.plan.total_steps
            scheduler = get_linear_schedule_with_warmup(optimizer, int(tc.warmup_ratio * total_steps), total_steps)
        else:  # the same linear warm-up and decay, to a total that the plan may revise
            # a closure (not an object), so the scheduler's saved state never carries a stale copy of the plan
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: _plan_factor(state["plan"], step, tc.warmup_ratio))
        self.trainable, self.optimizer, self.scheduler = accelerator.prepare(self.trainable, optimizer, scheduler)
        if self.resuming:
            accelerator.load_state(str(ckpt))
            if world > 1:
                saved_rng = torch.load(ckpt / RANK_RNG, weights_only=False) if (ckpt / RANK_RNG).is_file() else []
                if len(saved_rng) != world:
                    raise ConfigError(f"the checkpoint holds the random state of {len(saved_rng)} processes; resume it "
                                      f"with as many (this launch has {world})", path=self.out)
                _set_rng_state(saved_rng[self.rank])
            self.log("resume", **{k: state[k] for k in ("epoch", "step_in_epoch", "global_step")})
        else:
            self.log("start", config_hash=self.chash, train_examples=self.n_train,
                     valid_examples=len(self.valid_split), steps=self.plan.total_steps, device=str(self.device),
                     world_size=world, method=self.job.method.describe(), threads=state["threads"],
                     threads_reason=state["threads_reason"], precision=self.precision,
                     precision_info=state.get("precision_info"), plan=state.get("plan"), **self.job.info)
        inner = accelerator.unwrap_model(self.trainable)
        self.model = inner.model
        self.aux_mod = inner.aux if len(list(inner.aux.parameters())) else None
        self.params = [p for p in self.trainable.parameters() if p.requires_grad]

    def place_teacher(self) -> None:
        """The frozen teacher on the device (half-precision weights on a GPU), and the batch collators."""
        job, cfg, tc, device, precision = self.job, self.cfg, self.tc, self.device, self.precision
        teacher = self.teacher = job.teacher
        teacher_dtype = None
        if teacher is not None:
            place = getattr(teacher.model, "place", None)  # a device_map-dispatched teacher keeps its layers
            (place(device) if place is not None else teacher.model.to(device)).eval().requires_grad_(False)
            dispatched = bool(getattr(teacher.model, "dispatched", False))
            weights = next(teacher.model.parameters()).dtype
            if device.type == "cuda" and precision in ("bf16", "fp16") and not dispatched and weights == torch.float32:
                # the frozen teacher's weights themselves in half precision on a GPU (half the memory; it
                # only runs forward); on a CPU it runs under bf16 autocast with fp32 weights (teacher.dtype
                # loads them in half precision anywhere)
                teacher_dtype = torch.bfloat16 if precision == "bf16" else torch.float16
                teacher.model.to(teacher_dtype)
        self.state["teacher_dtype"] = str(teacher_dtype or (next(teacher.model.parameters()).dtype if teacher else None))
        # half-precision teacher weights (cast above, or loaded so with teacher.dtype): its outputs are
        # read as float32 by the losses (exact: every half-precision value is a float32)
        self.half_teacher = teacher is not None and next(teacher.model.parameters()).dtype in (torch.bfloat16,
                                                                                              torch.float16)
        encoders = {"student": job.student.encode}
        if teacher is not None:
            encoders["teacher"] = teacher.encode
        self.coll = Collator(self.train_split, cfg.normalization, encoders)
        transfer = job.transfer
        if transfer is not None and teacher is None:
            raise ConfigError("transfer data needs a live teacher (not a logit cache)")
        if transfer is not None and self.world > 1:
            raise ConfigError("transfer data runs two student forwards per step, which DDP does not allow; "
                              "use it in a single process")
        self.tcoll = Collator(transfer, cfg.normalization, encoders) if transfer is not None else None
        self.t_bs = job.transfer_batch_size or tc.batch_size

    def start_clock(self) -> None:
        """The initial evaluation (when asked), the clocks, the scalar writers and the fault injection."""
        cfg, tc, accelerator = self.cfg, self.tc, self.accelerator
        if self.job.eval_initial and not self.resuming:
            vm0, _ = self.evaluate(self.model, self.valid_split, self.valid_lengths)
            self.state["initial_valid"] = vm0
            self.log("eval", epoch=0, step=0, valid=vm0)
        self.t_start = time.perf_counter() - float(self.state.get("train_seconds", 0.0))
        # this process's speed, for the ETA
        self.t_process, self.steps_at_start = time.perf_counter(), int(self.state["global_step"])
        writer = self.summary_writer(log_dir=str(self.out / "tensorboard")) \
            if self.summary_writer is not None and accelerator.is_main_process else None
        if tc.trackers:  # Accelerate's trackers (tensorboard, wandb, mlflow), with the main settings as hparams
            accelerator.init_trackers("codekd", config={
                "kind": cfg.kind, "task": cfg.task, "method": cfg.method.name, "student": cfg.student.preset,
                "lr": tc.lr, "batch_size": tc.batch_size, "epochs": tc.epochs, "seed": tc.seed})
        self.scalars = _Scalars(writer, accelerator if tc.trackers else None)
        env = os.environ.get("CODEKD_KILL_AFTER_STEP")
        self.kill_after = int(os.environ["CODEKD_KILL_AFTER_STEP"]) if env else None

    # ---- checkpoint and evaluation (used by the steps below)

    def checkpoint(self, epoch: int, step_in_epoch: int) -> None:
        """Save the model, optimizer, scheduler, random states and the run state atomically (main process)."""
        accelerator, state = self.accelerator, self.state
        accelerator.wait_for_everyone()
        state.update(epoch=epoch, step_in_epoch=step_in_epoch)
        # Accelerate's save_state keeps the main process's random state only: every rank's goes in RANK_RNG
        rng = gather_objects(_rng_state()) if self.world > 1 else None
        if accelerator.is_main_process:
            with atomic_dir(self.ckpt) as tmp:
                accelerator.save_state(str(tmp))
                atomic_write_json(tmp / STATE, state)
                if rng is not None:
                    torch.save(rng, tmp / RANK_RNG)
        accelerator.wait_for_everyone()

    def evaluate(self, m: nn.Module, split: Any, lengths: np.ndarray | None) -> tuple[dict[str, Any], float]:
        """Metrics and selection score of ``m`` on ``split`` (classification, or the job's own objective)."""
        job, tc = self.job, self.tc
        with self.accelerator.autocast():
            if job.evaluate is not None:
                was_training = m.training
                m.eval()
                try:
                    return job.evaluate(m, split, self.device)
                finally:
                    m.train(was_training)
            logits = predict_logits(job.student, m, split, self.cfg.normalization, tc.eval_batch_size, self.device,
                                    lengths=lengths, max_examples=tc.eval_max_examples,
                                    shard=(self.rank, self.world))
        metrics = classification_metrics(logits, split.labels[: len(logits)], job.data.num_labels)
        return metrics, selection_score(job.task, metrics)

    # ---- the epoch loop

    def stops_before_epoch(self) -> bool:
        """Whether the run is over before the next epoch (max_steps, early stop, time budget, plan)."""
        tc, state = self.tc, self.state
        return bool((tc.max_steps is not None and state["global_step"] >= tc.max_steps)
                    or state.get("early_stopped") or state.get("time_budget_reached")
                    or (self.plan.budget_s is not None and state["global_step"] >= state["plan"]["total_steps"]))

    def train_epoch(self, epoch: int, prog: Any) -> _Epoch:
        """One epoch's batches (this process's slice of each), from where a resumed run stopped."""
        tc, state, world, plan = self.tc, self.state, self.world, self.plan
        batches = epoch_batches(self.n_train, plan.global_bs, seed=tc.seed, epoch=epoch, lengths=self.lengths,
                                bucket=tc.bucket)
        if world > 1:  # this process's contiguous slice of each global batch
            batches = [np.array_split(np.asarray(b), world)[self.rank].tolist() for b in batches]
        batches = batches[:plan.batches_per_epoch]
        start = int(state["step_in_epoch"]) * tc.grad_accum if epoch == int(state["epoch"]) else 0
        bar = prog.add_task(f"epoch {epoch + 1}/{tc.epochs}", total=len(batches), completed=start, info="")
        self.trainable.train()
        ep = _Epoch(epoch, batches, start, bar, time.perf_counter(), time.process_time(),
                    seen_before=sum(len(b) for b in batches[:start]))  # a resumed epoch counts its first part too
        if start == 0:
            state["epoch_loss"] = [0.0, 0]
        for bi in range(start, len(batches)):
            loss, parts, grad_norm, clipped_norm = self.train_step(epoch, bi, batches[bi])
            ep.seen += len(batches[bi])
            # the mean over all processes (every rank keeps the same state, and the log the global batch's loss)
            ep.running.append(float(self.accelerator.reduce(loss.detach(), "mean") if world > 1 else loss.detach()))
            state["epoch_loss"][0] += ep.running[-1]
            state["epoch_loss"][1] += 1
            if self.accelerator.sync_gradients:
                if self.after_step(ep, bi, prog, parts, grad_norm, clipped_norm):
                    break
            else:
                prog.update(bar, completed=bi + 1)
        prog.remove_task(bar)
        ep.train_loop_seconds = time.perf_counter() - ep.t_epoch
        ep.train_loop_cpu_seconds = time.process_time() - ep.cpu_epoch  # every thread of this process
        return ep

    def teacher_forward(self, encoding: dict[str, torch.Tensor]) -> Outputs:
        teacher = self.teacher
        with torch.no_grad(), self.accelerator.autocast():
            out = teacher.forward(teacher.model, encoding, self.needs_hidden)
        return _as_float(out) if self.half_teacher else out

    def train_step(self, epoch: int, bi: int, rows: list[int]) -> tuple[torch.Tensor, dict[str, float],
                                                                         float | None, float | None]:
        """Forward, loss (and the transfer batch's), backward and, at the end of an accumulation, the
        optimizer step. Returns the loss, its parts and the gradient norms (before and after clipping)."""
        job, tc, state, accelerator, device = self.job, self.tc, self.state, self.accelerator, self.device
        trainable, optimizer = self.trainable, self.optimizer
        batch = to_device(self.coll(rows), device)
        with accelerator.accumulate(trainable):
            s_out = trainable(batch["student"], self.needs_hidden)
            t_out = None
            if self.teacher is not None:
                t_out = self.teacher_forward(batch["teacher"])
            elif job.teacher_outputs is not None:
                t_out = to_device(job.teacher_outputs("train", batch["index"]), device)
            loss, parts = job.method.loss(s_out, t_out, batch["labels"], self.aux_mod)
            if self.tcoll is not None:
                # unlabeled transfer batch: teacher-output terms only (labels=None, never a gold-label term)
                k = (epoch * self.plan.batches_per_epoch + bi) * self.world + self.rank
                tb = to_device(self.tcoll(transfer_batch(len(job.transfer), self.t_bs, seed=tc.seed, k=k)), device)
                s_tr = trainable(tb["student"], self.needs_hidden)
                t_tr = self.teacher_forward(tb["teacher"])
                tr_loss, tr_parts = job.method.loss(s_tr, t_tr, None, self.aux_mod)
                loss = loss + job.transfer_weight * tr_loss
                parts = {**parts, **{f"transfer_{k_}": v for k_, v in tr_parts.items()}}
            accelerator.backward(loss)
            grad_norm = clipped_norm = None
            if accelerator.sync_gradients and tc.max_grad_norm is not None:
                grad_norm = float(accelerator.clip_grad_norm_(self.params, tc.max_grad_norm))
                if (state["global_step"] + 1) % tc.log_every == 0:
                    clipped_norm = _grad_norm(self.params)
            optimizer.step()
            # once per optimizer step that happened (Accelerate's default would step it once per
            # process under DDP: a schedule made for one process would end `world` times early)
            if accelerator.sync_gradients and not getattr(optimizer, "step_was_skipped", False):
                self.scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        return loss, parts, grad_norm, clipped_norm

    def after_step(self, ep: _Epoch, bi: int, prog: Any, parts: dict[str, float], grad_norm: float | None,
                   clipped_norm: float | None) -> bool:
        """After an optimizer step: progress, log, step evaluation, checkpoint, interruption, replan.
        Returns True when the epoch ends here (max_steps, the plan's total, the time budget)."""
        tc, state, plan, log, scalars = self.tc, self.state, self.plan, self.log, self.scalars
        state["global_step"] += 1
        gs = state["global_step"]
        epoch, running = ep.epoch, ep.running
        step_in_epoch = (bi + 1) // tc.grad_accum
        lr = self.scheduler.get_last_lr()[0]
        eps = ep.seen / max(1e-9, time.perf_counter() - ep.t_epoch)
        planned = self.planned_total()
        eta_s = (planned - gs) * (time.perf_counter() - self.t_process) / max(1, gs - self.steps_at_start)
        prog.update(ep.bar, completed=bi + 1, info=f"step {gs}/{planned} loss {np.mean(running[-20:]):.4f} "
                    f"lr {lr:.2e} {eps:.0f} ex/s", eta=fmt_seconds(eta_s))
        if gs % tc.log_every == 0 or gs == 1:
            log("step", epoch=epoch, step=gs, loss=float(np.mean(running[-tc.log_every:])), lr=lr,
                grad_norm=grad_norm, grad_norm_clipped=clipped_norm, examples_per_s=eps, **parts)
            scalars("train", {"loss": float(np.mean(running[-tc.log_every:])), "learning_rate": lr,
                              "examples_per_s": eps, "grad_norm": grad_norm}, gs)
        # before any checkpoint of this step, so a resumed run keeps the same evals
        every = self.job.eval_every or tc.eval_every
        if every and gs % every == 0:
            vme, _ = self.evaluate(self.model, self.valid_split, self.valid_lengths)
            state.setdefault("evals", []).append({"step": gs, "valid": vme})
            # the log also has the clock (wall since the start of training, process CPU): a learning curve
            log("eval", epoch=epoch, step=gs, valid=vme, examples=gs * tc.batch_size * tc.grad_accum * self.world,
                train_s=round(time.perf_counter() - self.t_start, 2), cpu_s=round(time.process_time(), 2))
            scalars("eval", vme, gs)
        if tc.checkpoint_every and gs % tc.checkpoint_every == 0:
            state["train_seconds"] = time.perf_counter() - self.t_start
            self.checkpoint(epoch, step_in_epoch)
        if self.kill_after is not None and gs == self.kill_after and self.main:
            os.kill(os.getpid(), signal.SIGKILL)  # fault injection (CODEKD_KILL_AFTER_STEP): tests
        if self.stop_after is not None and gs >= self.stop_after:
            state["train_seconds"] = time.perf_counter() - self.t_start
            self.checkpoint(epoch, step_in_epoch)
            raise Interrupted(f"stopped after step {gs}")
        if plan.budget_s is not None and bi + 1 - ep.start == REPLAN_AFTER * tc.grad_accum:
            _replan(state, plan.budget_s, time.perf_counter() - self.t_start, gs,
                    (time.perf_counter() - ep.t_epoch) / REPLAN_AFTER, plan.steps_per_epoch, plan.max_total,
                    tc.warmup_ratio)
        if tc.max_steps is not None and gs >= tc.max_steps:
            return True
        if plan.budget_s is not None and gs >= state["plan"]["total_steps"]:
            return True
        deadline = self.job.max_train_seconds if self.job.max_train_seconds is not None else math.inf
        if plan.budget_s is not None:  # a hard stop too: the plan is an estimate
            deadline = min(deadline, plan.budget_s - float(state["plan"].get("test_s", 0.0)))
        if time.perf_counter() - self.t_start >= deadline:
            state["time_budget_reached"] = True
            log("time_budget", step=gs, seconds=time.perf_counter() - self.t_start)
            return True
        return False

    # ---- validation and selection

    def end_epoch(self, ep: _Epoch) -> None:
        """Validate (selection uses the validation split only), keep the best, decide an early stop,
        replan a time budget, checkpoint at the epoch's end."""
        tc, state, plan, epoch = self.tc, self.state, self.plan, ep.epoch
        t_eval = time.perf_counter()
        vm, score = self.evaluate(self.model, self.valid_split, self.valid_lengths)
        if plan.budget_s is not None:
            tplan = state["plan"]
            tplan["eval_s"] = time.perf_counter() - t_eval
            tplan["test_s"] = tplan["eval_s"] * _test_size(self.job) / max(1, len(self.valid_split)) + TEST_OVERHEAD_S
            steps_done = state["global_step"] - int(tplan.get("epoch_start_step", 0))
            if steps_done > 0:
                _replan(state, plan.budget_s, time.perf_counter() - self.t_start, state["global_step"],
                        ep.train_loop_seconds / steps_done, plan.steps_per_epoch, plan.max_total, tc.warmup_ratio)
            tplan["epoch_start_step"] = state["global_step"]
        el = state.get("epoch_loss", [0.0, 0])
        rec = {"epoch": epoch + 1, "train_loss": el[0] / el[1] if el[1] else None,
               "valid": vm, "selection": score, "seconds": time.perf_counter() - ep.t_epoch,
               "train_loop_seconds": ep.train_loop_seconds, "train_loop_cpu_seconds": ep.train_loop_cpu_seconds,
               "train_examples_seen": ep.seen_before + ep.seen}
        state["history"].append(rec)
        self.log("epoch", **rec)
        self.scalars("eval", vm, state["global_step"])
        self.scalars("train", {"epoch_loss": rec["train_loss"], "epoch": epoch + 1}, state["global_step"])
        if state["best_score"] is None or score > state["best_score"]:
            state.update(best_score=score, best_epoch=epoch + 1)
            if self.accelerator.is_main_process:
                with atomic_dir(self.out / BEST) as tmp:
                    self.job.save_best(self.model, tmp)
        patience = tc.early_stopping_patience
        if patience and len(state["history"]) - int(state["best_epoch"]) >= patience and epoch + 1 < tc.epochs:
            # decided before the checkpoint, so a run resumed after this point stops too
            state["early_stopped"] = {"epoch": epoch + 1, "best_epoch": state["best_epoch"], "patience": patience}
            self.log("early_stop", **state["early_stopped"])
        state["train_seconds"] = time.perf_counter() - self.t_start
        self.checkpoint(epoch + 1, 0)

    # ---- test and results

    def test(self, prog: Any) -> dict[str, Any] | None:
        """The test split once, with the best weights (None without a test split)."""
        job, cfg, tc, state = self.job, self.cfg, self.tc, self.state
        test_split = job.data.splits.get("test")
        if test_split is None:
            return None
        best_model = job.load_best(self.out / BEST).to(self.device)
        if job.evaluate is not None:
            test_metrics, _ = self.evaluate(best_model, test_split, None)
        else:
            with self.accelerator.autocast():
                tlogits = predict_logits(job.student, best_model, test_split, cfg.normalization,
                                         tc.eval_batch_size, self.device,
                                         lengths=code_lengths(test_split, cfg.normalization), progress=prog,
                                         shard=(self.rank, self.world))
            test_metrics = classification_metrics(tlogits, test_split.labels, job.data.num_labels)
            state["sanity"] = degeneracy(tlogits, test_split.labels, job.data.num_labels, metric=job.task.metric,
                                         label_names=job.data.labels, split="test")
            if self.accelerator.is_main_process:
                np.save(self.out / "test_logits.npy", tlogits)
        del best_model
        return test_metrics

    def write_result(self, test_metrics: dict[str, Any] | None, train_seconds: float) -> dict[str, Any]:
        """``metrics.json`` (main process), the checkpoint removed, the trackers closed; the result."""
        job, state, accelerator = self.job, self.state, self.accelerator
        result = {
            "status": "done",
            "config_hash": self.chash,
            "task": job.task.name,
            "method": job.method.describe(),
            "best_epoch": state["best_epoch"],
            "valid": state["history"][state["best_epoch"] - 1]["valid"] if state["best_epoch"] else None,
            "test": test_metrics,
            "headline_metric": job.task.metric,
            "test_headline": headline(job.task, test_metrics) if test_metrics and job.evaluate is None else None,
            "history": state["history"],
            "global_steps": state["global_step"],
            "train_seconds": round(train_seconds, 2),
            "device": str(self.device),
            "world_size": self.world,
            **job.info,
        }
        result["precision"] = state.get("precision")
        result["precision_info"] = state.get("precision_info")
        result["threads"] = state.get("threads")
        if self.teacher is not None:
            result["teacher_dtype"] = state.get("teacher_dtype")
        for key in ("initial_valid", "evals", "time_budget_reached", "plan", "sanity", "early_stopped"):
            if key in state:
                result[key] = state[key]
        self.log("done", test=test_metrics, best_epoch=state["best_epoch"])
        if accelerator.is_main_process:
            atomic_write_json(self.out / METRICS, result)
            shutil.rmtree(self.ckpt, ignore_errors=True)  # the best weights and metrics are what a finished run keeps
        accelerator.end_training() if self.tc.trackers else None
        self.scalars.close()
        return result


__all__ = ["TrainJob", "Interrupted", "run_training", "config_hash", "finished_metrics", "set_seed"]
