"""`codekd teacher ...` and `codekd distill`: thin layers over :mod:`codekd.engine.runs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer
from rich.table import Table

from ..config import load_run_config
from ..engine.dist import is_main_process
from ..errors import ConfigError
from ..evaluation.baseline import find_baseline, run_baseline
from ..sanity import warnings_for
from ..recipes import teacher_recipe
from .common import console

# engine.runs, engine.teacher_cache and the student presets load torch and transformers: imported by
# the commands that run them, so that every other command (and --help) starts without them

teacher_app = typer.Typer(no_args_is_help=True)

SET_HELP = ("Dotted override of any config field, e.g. --set train.lr=1e-4 (repeatable); train.* fields include "
            "max_steps, eval_every, early_stopping_patience, report_to, num_threads, log_every_s, warmup_ratio, "
            "weight_decay, grad_accum, seed.")

# training-loop options shared by `teacher finetune` and `distill` (train.* fields of the run config)
MAX_STEPS_HELP = "Stop after this many optimizer steps (train.max_steps); with --minutes the smaller budget wins."
EVAL_EVERY_HELP = ("Also validate every N optimizer steps (train.eval_every; logged, and written to TensorBoard); "
                   "the best checkpoint is still chosen at epoch ends.")
PATIENCE_HELP = ("Early stopping (train.early_stopping_patience, HF convention): stop when the epoch-end validation "
                 "score has not improved for N validations.")
REPORT_TO_HELP = ("none (default) | tensorboard (train.report_to): loss, learning rate and validation metrics in "
                  "OUT/tensorboard; needs pip install 'codekd\\[tensorboard]'.")
THREADS_HELP = ("torch CPU threads (train.num_threads). Default: the free cores (usable cores minus the load "
                "average, at least 1), and 1 for a model under 5M parameters, such as every 1.5M student.")
LOG_EVERY_S_HELP = ("When stdout is not a terminal (no progress bar), print a line every N seconds: step, loss, "
                    "examples/s, ETA (train.log_every_s, default 30).")

# The options the commands share, each defined once (name, flags, help); the default stays with the parameter.
DataOpt = Annotated[Path, typer.Option("--data", "-d", help="Dataset folder.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML run config.")]
SetOpt = Annotated[List[str], typer.Option("--set", help=SET_HELP)]
NormalizationOpt = Annotated[Optional[str], typer.Option(
    help="whitespace (default) | structure | none, optionally :hole=N or :try=N (e.g. structure:try=4).")]
FractionOpt = Annotated[Optional[float], typer.Option(help="Seeded subsample of train and valid.")]
MaxStepsOpt = Annotated[Optional[int], typer.Option("--max-steps", min=1, help=MAX_STEPS_HELP)]
EvalEveryOpt = Annotated[Optional[int], typer.Option("--eval-every", min=1, help=EVAL_EVERY_HELP)]
PatienceOpt = Annotated[Optional[int], typer.Option("--early-stopping-patience", min=1, help=PATIENCE_HELP)]
ReportToOpt = Annotated[Optional[str], typer.Option("--report-to", help=REPORT_TO_HELP)]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help=THREADS_HELP)]
LogEverySOpt = Annotated[Optional[float], typer.Option("--log-every-s", min=0.1, help=LOG_EVERY_S_HELP)]
NoResumeOpt = Annotated[bool, typer.Option("--no-resume", help="Start over even if the run folder has a checkpoint.")]


def task_option() -> Any:
    """``--task``: each command's own option object (a parameter default, not an annotation), because
    :func:`codekd.cli.help_lists.refresh` puts the registered tasks into its help at ``--help`` time."""
    return typer.Option(..., "--task", "-t", help="Task name.")


def _loop_fields(max_steps: Any, eval_every: Any, patience: Any, report_to: Any, threads: Any,
                 log_every_s: Any) -> dict[str, Any]:
    if report_to is not None and report_to not in ("none", "tensorboard"):
        raise ConfigError(f"--report-to must be none or tensorboard, got {report_to!r}")
    return {"train.max_steps": max_steps, "train.eval_every": eval_every, "train.early_stopping_patience": patience,
            "train.report_to": report_to, "train.num_threads": threads, "train.log_every_s": log_every_s}


def _fields(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def _choice(value: str | None, allowed: tuple[str, ...], flag: str) -> str | None:
    if value is not None and value not in allowed:
        raise ConfigError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _summary(result: dict[str, Any], out: Path, name: str, baseline: dict[str, Any] | None = None) -> None:
    t = Table("split", "accuracy", "precision", "recall", "F1", "top-3")
    for split in ("valid", "test"):
        m = result.get(split) or {}
        if m:
            t.add_row(split, *(f"{100 * m[k]:.2f}" if k in m else "-" for k in ("accuracy", "precision", "recall", "f1", "top3")))
    if baseline is not None:
        m = baseline["test"]
        t.add_row("test: TF-IDF baseline", *(f"{100 * m[k]:.2f}" if k in m else "-"
                                             for k in ("accuracy", "precision", "recall", "f1", "top3")))
    console.print(t)
    console.print(f"best epoch {result.get('best_epoch')}, {result.get('train_seconds')} s of training; run folder: {out}")
    if baseline is not None:
        console.print(f"TF-IDF baseline ({baseline.get('mode')} mode, {baseline.get('seconds')} s): {baseline.get('file')}",
                      markup=False)
    for line in warnings_for(result.get("sanity"), name,
                             baseline=baseline["test_headline"] if baseline is not None else None):
        console.print(line, markup=False, style="yellow")


@teacher_app.command("finetune")
def teacher_finetune(
    teacher: str = typer.Option(..., "--teacher", help="Hub id, alias (minilm, unixcoder-base, modernbert-base, codebert-base) or folder."),
    data: DataOpt = ...,
    task: str = task_option(),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder; the teacher is saved in OUT/best."),
    config: ConfigOpt = None,
    set_: SetOpt = [],
    recipe: str = typer.Option("auto", help="paper (AdamW 2e-5, batch 32, 5 epochs, 512 tokens) | cpu (bottom 3 "
                               "layers frozen and replayed where the teacher allows, bf16 where measured faster, "
                               "lr 3e-4) | auto (paper on a GPU, else cpu). Options below override it."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (paper: 2e-5; cpu recipe: 3e-4)."),
    batch_size: Optional[int] = typer.Option(None, help="Batch size (paper: 32)."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (paper: 5; with --minutes an upper bound)."),
    max_length: Optional[int] = typer.Option(None, help="Max tokens per example (paper: 512)."),
    minutes: Optional[float] = typer.Option(None, help="Time budget in minutes: steps planned from the measured "
                                            "speed, the LR schedule ends with the budget."),
    precision: Optional[str] = typer.Option(None, help="fp32 (or no) | bf16 | fp16 (GPU, with a gradient scaler) | "
                                            "auto (bf16 only where a timed step is faster; cpu recipe default)."),
    freeze_layers: Optional[int] = typer.Option(None, help="Freeze (and replay) the embeddings and the bottom N "
                                                "layers (cpu recipe: 3 for MiniLM-style teachers; 0 = none)."),
    pair_mode: Optional[str] = typer.Option(None, help="joint (text pair, the paper) or separate (CodeXGLUE) for pair tasks."),
    pooling: Optional[str] = typer.Option(None, help="What the head reads: cls, mean or last (default: mean for a "
                                          "sentence-transformers model that averages tokens, such as minilm; last for "
                                          "a decoder; else cls)."),
    normalization: NormalizationOpt = None,
    fraction: FractionOpt = None,
    lora: Optional[str] = typer.Option(None, "--lora", help="Train LoRA adapters (peft) instead of all weights: "
                                       "r=16,alpha=32,dropout=0.05[,targets=q_proj+v_proj][,bits=4] ('on' = these "
                                       "defaults; bits=4 is QLoRA: bitsandbytes + GPU). OUT/best is merged."),
    max_steps: MaxStepsOpt = None,
    eval_every: EvalEveryOpt = None,
    early_stopping_patience: PatienceOpt = None,
    report_to: ReportToOpt = None,
    threads: ThreadsOpt = None,
    log_every_s: LogEverySOpt = None,
    no_resume: NoResumeOpt = False,
    baseline: bool = typer.Option(True, "--baseline/--no-baseline", help="After training, score a TF-IDF + "
                                  "logistic-regression baseline on the same data, normalisation and fraction "
                                  "(fast mode, seconds to a minute) into OUT/baseline.json; warn if the teacher "
                                  "is not above it."),
) -> None:
    """Fine-tune a teacher on a task: the paper's recipe on a GPU, the measured CPU recipe otherwise (--recipe)."""
    from ..engine.runs import finetune_teacher  # (torch, transformers: see the imports above)

    fields = teacher_recipe(recipe, teacher=teacher, pooling=pooling)
    fields.update(_fields(**{
        "kind": "finetune", "task": task, "data": str(data), "out": str(out), "teacher.path": teacher,
        "teacher.pair_mode": pair_mode, "teacher.pooling": pooling, "normalization": normalization,
        "fraction": fraction, "train.lr": lr, "train.batch_size": batch_size, "train.epochs": epochs,
        "train.max_length": max_length, "train.minutes": minutes, "train.precision": precision,
        "teacher.freeze_layers": freeze_layers, "teacher.lora": lora,
        **_loop_fields(max_steps, eval_every, early_stopping_patience, report_to, threads, log_every_s)}))
    cfg = load_run_config(config, set_, **fields)
    result = finetune_teacher(cfg, resume=not no_resume)
    if not is_main_process():  # one summary (and one baseline file) per distributed job
        return
    _summary(result, out, f"teacher {out}", run_baseline(cfg, fast=True) if baseline else None)


@teacher_app.command("cache")
def teacher_cache(
    teacher: Path = typer.Option(..., "--teacher", help="Fine-tuned teacher folder (or its run folder)."),
    data: DataOpt = ...,
    task: str = task_option(),
    out: Path = typer.Option(..., "--out", "-o", help="Cache folder."),
    splits: List[str] = typer.Option(["train"], "--split", help="Splits to cache (repeatable)."),
    normalization: str = typer.Option("whitespace", help="Must match the distillation runs that use the cache."),
    max_length: Optional[int] = typer.Option(None, help="Teacher max length (default: the teacher's)."),
    batch_size: int = typer.Option(64),
    pooled: bool = typer.Option(False, "--pooled", help="Also store the pooled state after each teacher layer, "
                                "pooled the way the teacher's head reads it (its pooling: cls = first token, mean = "
                                "mean of the real tokens, last = last real token), what PKD reads, so PKD runs from "
                                "the cache too."),
    token_layers: List[int] = typer.Option([], "--token-layer", help="Also store the token states of this teacher "
                                           "layer (0 = embeddings; repeatable), so CKD runs from the cache "
                                           "(float16, 2*hidden bytes per token and layer)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Teacher weights: float32 | bfloat16 | float16 "
                                        "(half the memory of a big teacher; stored arrays stay float32)."),
    precision: str = typer.Option("fp32", "--precision", help="fp32 (or no) | bf16 | fp16 (GPU) | auto: the "
                                  "teacher's forward under autocast (auto: bf16 only where a timed forward is faster; "
                                  "stored arrays stay float32, token states float16)."),
    device_map: Optional[str] = typer.Option(None, "--device-map", help="A teacher larger than one GPU: auto | "
                                             "balanced | sequential (from_pretrained's device_map)."),
) -> None:
    """Store the frozen teacher's logits per example id, with a fingerprint of teacher + data + settings."""
    from ..engine.teacher_cache import build_teacher_cache  # (torch, transformers)

    meta = build_teacher_cache(teacher, data, task, out, splits=splits, normalization=normalization,
                               max_length=max_length, batch_size=batch_size, pooled=pooled,
                               token_layers=token_layers, dtype=_choice(dtype, ("float32", "bfloat16", "float16"), "--dtype"),
                               precision=_choice("no" if precision == "fp32" else precision, ("no", "bf16", "fp16", "auto"),
                                                 "--precision"),
                               device_map=device_map)
    console.print(f"wrote {out}: {meta['splits']} examples in {meta['seconds']} s, fingerprint {meta['fingerprint'][:12]}")


def distill_cmd(
    student: str = typer.Option("gru-1.5m", "--student", "-s", help="Student preset (codekd students list), or a "
                                "pre-trained student folder (codekd pretrain mlm) to start from."),
    method: str = typer.Option("kd", "--method", "-m", help="Distillation method (codekd methods list)."),
    data: DataOpt = ...,
    task: str = task_option(),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Fine-tuned teacher folder (not needed for ft)."),
    teacher_cache: Optional[Path] = typer.Option(None, "--teacher-cache", help="Use a teacher-output cache instead of running the teacher."),
    teacher_dtype: Optional[str] = typer.Option(None, "--teacher-dtype", help="Live teacher weights: float32 | "
                                                "bfloat16 | float16 (half the memory of a big teacher)."),
    device_map: Optional[str] = typer.Option(None, "--device-map", help="Live teacher larger than one GPU: auto | "
                                             "balanced | sequential (from_pretrained's device_map)."),
    config: ConfigOpt = None,
    set_: SetOpt = [],
    paper_faithful: bool = typer.Option(False, "--paper-faithful", help="The paper code's losses and hyperparameters."),
    vocab: Optional[Path] = typer.Option(None, "--vocab", help="Student tokenizer folder (default: train one on the train split)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default 5e-4)."),
    batch_size: Optional[int] = typer.Option(None, help="Batch size (default 32)."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (default 5)."),
    max_length: Optional[int] = typer.Option(None, help="Max tokens per example (default 512)."),
    normalization: NormalizationOpt = None,
    fraction: FractionOpt = None,
    seed: Optional[int] = typer.Option(None, help="Training seed."),
    minutes: Optional[float] = typer.Option(None, help="Time budget in minutes: steps planned from the measured "
                                            "speed, the LR schedule ends with the budget (epochs: an upper bound)."),
    precision: Optional[str] = typer.Option(None, help="fp32 (default; or no) | bf16 | fp16 (GPU, with a gradient "
                                            "scaler; a live teacher in half precision on a GPU) | auto (bf16 only "
                                            "where a timed step is faster)."),
    max_steps: MaxStepsOpt = None,
    eval_every: EvalEveryOpt = None,
    early_stopping_patience: PatienceOpt = None,
    report_to: ReportToOpt = None,
    threads: ThreadsOpt = None,
    log_every_s: LogEverySOpt = None,
    no_resume: NoResumeOpt = False,
) -> None:
    """Distil a teacher into a student with a method; resumable, best epoch kept, test evaluated once."""
    from ..engine.runs import distill  # (torch, transformers)

    init_from = None
    if Path(student).is_dir():  # a pre-trained student: its weights, vocabulary and shape
        from ..models.students.presets import load_student_spec, preset_names  # (transformers)

        spec = load_student_spec(student)
        init_from = str(Path(student).resolve())
        student = spec.name if spec is not None and spec.name in preset_names() else \
            ("gru-1.5m" if spec is None or spec.family == "gru" else "roberta-1.5m")
    cfg = load_run_config(config, set_, **_fields(**{
        "student.init_from": init_from,
        "kind": "distill", "task": task, "data": str(data), "out": str(out), "teacher.path": teacher,
        "teacher.cache": str(teacher_cache) if teacher_cache else None, "student.preset": student,
        "teacher.dtype": teacher_dtype, "teacher.device_map": device_map,
        "student.vocab": str(vocab) if vocab else None, "method.name": method,
        "method.paper_faithful": paper_faithful or None, "normalization": normalization, "fraction": fraction,
        "train.lr": lr, "train.batch_size": batch_size, "train.epochs": epochs, "train.max_length": max_length,
        "train.seed": seed, "train.minutes": minutes, "train.precision": precision,
        **_loop_fields(max_steps, eval_every, early_stopping_patience, report_to, threads, log_every_s)}))
    result = distill(cfg, resume=not no_resume)
    if not is_main_process():  # one summary per distributed job
        return
    # the teacher run's TF-IDF baseline, when it was scored on the same data and normalisation
    _summary(result, out, f"student {out}", find_baseline([cfg.out, cfg.teacher.path], data=cfg.data, task=cfg.task,
                                                           normalization=cfg.normalization))
