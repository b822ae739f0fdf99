"""Entry points that turn a :class:`~codekd.config.RunConfig` into a training job: teacher
fine-tuning and distillation (any registered method). The CLI calls these; so can Python code.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer

from ..config import RunConfig
from ..data.guard import warn_small_data
from ..data.loaders import TaskData, check_trainable, load_task_data
from ..data.normalize import STRUCTURE_TOKENS, parse_normalization
from ..errors import ConfigError
from ..io import check_output_dir, read_json
from ..methods import MethodContext, get_method
from ..methods.compat import check_run_config
from ..methods.sources import reads_tokens
from ..models.hf import hf_load, quiet_transformers
from ..models.lora import apply_lora, quantized_load_kwargs
from ..models.students.presets import build_student, load_student, load_student_spec, resolve_spec, save_student
from ..models.teacher import Teacher
from ..tasks import get_task
from ..vocab import read_vocab_meta, train_vocab
from .dist import main_first, refuse_single_process_launch
from .frozen import freeze_bottom, frozen_prefix_side
from .memory import free_memory, teacher_memory_estimate
from .sides import student_side, teacher_side
from .teacher_cache import TeacherCache, cache_settings, fingerprint_parts, resolve_teacher_dir
from .trainer import TrainJob, finished_metrics, run_training, set_seed
from .transfer import load_transfer

PAPER_TEACHER_TRAIN = {"lr": 2e-5, "batch_size": 32, "epochs": 5, "warmup_ratio": 0.1, "max_length": 512,
                       "max_grad_norm": 1.0}


#: what makes a folder a codekd run folder (any one of them)
RUN_MARKERS = ("config.yaml", "metrics.json", "log.jsonl", "checkpoint", "best", "vocab", "baseline.json", "corpus")


def check_run_folder(cfg: RunConfig) -> None:
    """Refuse an ``--out`` that is a file, or a folder that is not a codekd run of this kind (before any work)."""
    check_output_dir(cfg.out, markers=RUN_MARKERS, what="run folder", kind=cfg.kind)


def _load_data(cfg: RunConfig) -> TaskData:
    data = load_task_data(cfg.data, get_task(cfg.task), fraction=cfg.fraction, seed=cfg.data_seed)
    check_trainable(data)
    return data


def _warn_small_data(cfg: RunConfig, data: TaskData) -> None:
    """After every check that can refuse the run, before the training time is spent."""
    warn_small_data(data, cfg.task, cfg.train.train_max_examples)


def _cache_teacher(cfg: RunConfig) -> RunConfig:
    """``--teacher-cache`` without ``--teacher``: the teacher the cache was built from (its files are
    part of the cache's fingerprint, and its shape sets the layer maps; it is never run)."""
    if cfg.teacher.path or not cfg.teacher.cache:
        return cfg
    meta_file = Path(cfg.teacher.cache) / "meta.json"
    meta = read_json(meta_file, "teacher cache metadata") if meta_file.exists() else {}
    meta = meta if isinstance(meta, dict) else {}
    src = meta.get("teacher_folder") or meta.get("teacher")
    if not src:
        raise ConfigError("cannot tell which teacher built this cache (no meta.json naming it): pass --teacher",
                          path=cfg.teacher.cache)
    if not Path(src).exists() and (meta.get("teacher_folder") or Path(src).is_absolute()):
        raise ConfigError(f"the cache was built from the teacher {src}, which is no longer there; the cache is checked "
                          "against the teacher's files, so pass --teacher (the teacher folder it was built from)",
                          path=cfg.teacher.cache)
    return cfg.model_copy(update={"teacher": cfg.teacher.model_copy(update={"path": str(src)})})


# ------------------------------------------------------------------------------------------- teacher

def finetune_teacher(cfg: RunConfig, *, resume: bool = True, progress: bool = True,
                     stop_after: int | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.teacher.path`` (hub id, alias or folder) on the task with cross-entropy.

    The best epoch's teacher is saved as a Hugging Face folder in ``OUT/best`` (loadable by
    :meth:`codekd.models.teacher.Teacher.from_pretrained`, and by ``distill --teacher OUT``).
    With ``teacher.lora`` only LoRA adapters and the classifier are trained; ``OUT/best`` holds the
    merged model and ``OUT/best/lora`` the adapters (:mod:`codekd.models.lora`).
    """
    if not cfg.teacher.path:
        raise ConfigError("teacher fine-tuning needs a teacher (hub id, alias such as 'minilm', or a folder)")
    refuse_single_process_launch()
    check_run_folder(cfg)
    done = finished_metrics(cfg.out, cfg) if resume else None
    if done is not None:
        return done
    task = get_task(cfg.task)
    data = _load_data(cfg)
    lora = cfg.teacher.lora
    if lora is not None and cfg.teacher.freeze_layers:
        raise ConfigError("LoRA and a frozen replayed bottom (teacher.freeze_layers) do not combine; "
                          "set --freeze-layers 0 with --lora")
    set_seed(cfg.train.seed)  # a new classification head is initialised from the seed
    teacher = Teacher.load(cfg.teacher.path, data.num_labels, is_pair=task.is_pair, pair_mode=cfg.teacher.pair_mode,
                           unixcoder=cfg.teacher.unixcoder, max_length=cfg.train.max_length,
                           pooling=cfg.teacher.pooling,
                           **quantized_load_kwargs(lora.bits if lora is not None else None))
    if parse_normalization(cfg.normalization)[0] == "structure":
        # an uncased WordPiece teacher would split "<nl>" into "<", "nl", ">": one token each instead
        teacher.add_tokens(STRUCTURE_TOKENS)
    teacher.requires_grad_(True)
    extra_info: dict[str, Any] = {}
    if lora is not None:
        extra_info["lora"] = apply_lora(teacher, lora.model_dump())
    k = cfg.teacher.freeze_layers
    if k:
        extra_info["frozen_params"] = freeze_bottom(teacher, k)
        side, store = frozen_prefix_side(teacher, k)
        extra_info["frozen_prefix"] = store.stats  # filled as the run goes: functions, tokens, bytes
        probe_context = store.probing
    else:
        side = teacher_side(teacher, pad_to_max_length=cfg.train.pad_to_max_length)
        probe_context = None
    method = get_method("ft")(MethodContext(task=task.name, num_labels=data.num_labels, student_family="teacher",
                                            student_layers=teacher.num_layers, student_hidden=teacher.hidden_size))

    def save_best(model: torch.nn.Module, folder: Path) -> None:
        model.save_pretrained(folder)

    def load_best(folder: Path) -> torch.nn.Module:
        return Teacher.from_pretrained(folder)

    job = TrainJob(cfg=cfg, task=task, data=data, student=side, method=method, save_best=save_best,
                   load_best=load_best,
                   info={"role": "teacher", "teacher_source": str(cfg.teacher.path),
                         "params": sum(p.numel() for p in teacher.parameters()), "pooling": teacher.pooling,
                         "architecture": teacher.config.model_type, "causal": teacher.causal, **extra_info},
                   probe_context=probe_context)
    _warn_small_data(cfg, data)
    return run_training(job, resume=resume, progress=progress, stop_after=stop_after)


# ------------------------------------------------------------------------------------------- student

def student_tokenizer(cfg: RunConfig, spec: Any) -> Any:
    """The student's tokenizer: ``student.vocab`` if given, else a vocabulary trained on the train
    split into ``OUT/vocab`` (reused when it already matches)."""
    quiet_transformers()
    init = Path(cfg.student.init_from) if cfg.student.init_from else None
    init_has_tok = init is not None and (init / "tokenizer_config.json").is_file()
    if cfg.student.vocab:
        tok = hf_load(AutoTokenizer.from_pretrained, cfg.student.vocab, what="student vocabulary")
        if init_has_tok:
            own = hf_load(AutoTokenizer.from_pretrained, str(init), what="student tokenizer")
            if own.get_vocab() != tok.get_vocab():
                raise ConfigError("student.vocab differs from the vocabulary the init_from weights were trained "
                                  "with; leave student.vocab out to use the folder's own", path=cfg.student.vocab)
        return tok
    if init_has_tok:  # a pre-trained student brings its vocabulary (its embeddings are indexed by it)
        return hf_load(AutoTokenizer.from_pretrained, str(init), what="student tokenizer")
    size = cfg.student.vocab_size or spec.vocab_size
    folder = Path(cfg.out) / "vocab"
    meta = read_vocab_meta(folder)
    wanted = {"requested_size": size, "normalization": cfg.normalization, "fraction": cfg.fraction,
              "seed": cfg.data_seed, "model_max_length": cfg.train.max_length}
    if not meta or any(meta.get(k) != v for k, v in wanted.items()) or \
            meta.get("data") != str(Path(cfg.data).resolve()):
        train_vocab(cfg.data, cfg.task, size, folder, max_length=cfg.train.max_length, normalization=cfg.normalization,
                    fraction=cfg.fraction, seed=cfg.data_seed)
    return AutoTokenizer.from_pretrained(str(folder))


def student_spec(cfg: RunConfig) -> Any:
    """The student's shape: the preset with any overrides, or the spec saved in ``student.init_from``."""
    if cfg.student.init_from:
        init = Path(cfg.student.init_from)
        if not (init / "config.json").is_file():
            raise ConfigError("student.init_from is not a model folder (no config.json)", path=init)
        saved = load_student_spec(init)
        if saved is not None:
            return saved  # the weights fix the shape
    spec = resolve_spec(cfg.student.preset)
    changes = {k: v for k, v in {"layers": cfg.student.layers, "hidden": cfg.student.hidden, "heads": cfg.student.heads,
                                 "ffn": cfg.student.ffn, "dropout": cfg.student.dropout,
                                 "vocab_size": cfg.student.vocab_size}.items() if v is not None}
    return spec.replace(**changes) if changes else spec


def _live_memory(cfg: RunConfig, teacher: Any, method: Any, student_params: int, needs: Any,
                 progress: bool) -> dict[str, Any]:
    """Estimate (and with ``progress`` print) the memory of a live-teacher run before it starts; warn
    when it is above what the device has free."""
    lm = getattr(method, "layer_map", None)
    pairs = len(lm.pairs) if cfg.method.name == "ckd" and lm is not None else 0
    half = cfg.train.mixed_precision in ("bf16", "fp16")
    est = teacher_memory_estimate(teacher, batch=cfg.train.batch_size, tokens=cfg.train.max_length,
                                  student_params=student_params,
                                  keeps_states=bool(needs.hidden_states or needs.pooled_states or needs.token_alignment),
                                  autocast_half=half, ckd_pairs=pairs,
                                  ckd_window=int(method.params.get("window", 10)) if pairs else 10)
    device = torch.device("cuda" if not cfg.train.cpu and torch.cuda.is_available() else "cpu")
    free = free_memory(device)
    if progress:
        print(f"live teacher run, {cfg.method.name} at batch {cfg.train.batch_size} x {cfg.train.max_length} tokens: "
              f"memory {est.describe()}" + (f"; {free / 1e9:.1f} GB free on {device.type}" if free else ""), flush=True)
    if free is not None and est.total > free:
        warnings.warn(f"the live {cfg.method.name} run is estimated at {est.total / 1e9:.1f} GB, above the "
                      f"{free / 1e9:.1f} GB free on {device.type}: lower train.batch_size or train.max_length, load "
                      "the teacher in bfloat16 (teacher.dtype), or distil from a teacher cache (codekd teacher cache)",
                      stacklevel=3)
    return {"total_bytes": est.total, "free_bytes": free, **{k: getattr(est, k) for k in (
        "teacher_weights", "teacher_states", "teacher_layer_peak", "student", "loss")}}


def distill(cfg: RunConfig, *, resume: bool = True, progress: bool = True, stop_after: int | None = None) -> dict[str, Any]:
    """Train a student with ``cfg.method`` (FT needs no teacher). Returns the final metrics."""
    refuse_single_process_launch()
    check_run_folder(cfg)
    method_cls = get_method(cfg.method.name)
    if method_cls.needs.teacher:
        cfg = _cache_teacher(cfg)
    done = finished_metrics(cfg.out, cfg) if resume else None
    if done is not None:
        return done
    task = get_task(cfg.task)
    method_cls = get_method(cfg.method.name)
    spec = student_spec(cfg)
    check_run_config(cfg, family=spec.family)  # method x student x task, before any data or model is loaded
    data = _load_data(cfg)
    check_run_config(cfg, num_labels=data.num_labels, family=spec.family)  # now with the data's label count
    with main_first(cpu=cfg.train.cpu or not torch.cuda.is_available()):  # DDP: one process trains the vocabulary
        tokenizer = student_tokenizer(cfg, spec)
    set_seed(cfg.train.seed)  # the student's initial weights come from the seed
    if cfg.student.init_from:
        # encoder weights from the folder (e.g. codekd pretrain mlm); a new classifier for this task's labels
        model, _ = load_student(cfg.student.init_from, with_tokenizer=False, num_labels=data.num_labels)
        model.train()
        if model.config.vocab_size != len(tokenizer):
            raise ConfigError(f"init_from model has vocabulary {model.config.vocab_size}, the student tokenizer {len(tokenizer)}")
    else:
        model = build_student(spec, data.num_labels, tokenizer)
    family = "gru" if getattr(model.config, "model_type", "") == "codekd-bigru" else "roberta"
    state_width = 2 * model.config.hidden_size if family == "gru" else model.config.hidden_size

    teacher = None
    teacher_outputs = None
    cache: TeacherCache | None = None
    needs = method_cls.needs
    t_layers = t_hidden = None
    if needs.teacher:
        if not cfg.teacher.path:
            raise ConfigError(f"method {cfg.method.name!r} needs a teacher: set --teacher (a fine-tuned teacher folder) "
                              "or --teacher-cache (a cache built from one)")
        tsrc = resolve_teacher_dir(cfg.teacher.path) or cfg.teacher.path
        use_cache = bool(cfg.teacher.cache)
        teacher = Teacher.load(str(tsrc), data.num_labels, is_pair=task.is_pair, pair_mode=cfg.teacher.pair_mode,
                               unixcoder=cfg.teacher.unixcoder, max_length=cfg.train.max_length, strict_labels=True,
                               dtype=None if use_cache else cfg.teacher.dtype,
                               device_map=None if use_cache else cfg.teacher.device_map)
        if teacher.num_labels != data.num_labels:
            raise ConfigError(f"the teacher has {teacher.num_labels} labels but the task data has {data.num_labels}")
        t_layers, t_hidden = teacher.num_layers, teacher.hidden_size
        if use_cache:
            cache = TeacherCache(cfg.teacher.cache)
            cache.verify(*fingerprint_parts(cfg.teacher.path, cfg.data, cache_settings(
                teacher, cfg.normalization, task.name, cfg.fraction, cfg.data_seed)))
            reason = cache.source.can_serve(method_cls)  # what it holds, before the method is built
            if reason:
                raise ConfigError(reason, path=cfg.teacher.cache)

    extra: dict[str, Any] = {"student_embedding_hidden": model.config.hidden_size}
    if teacher is not None and teacher.causal:
        extra["teacher_causal"] = True  # decoder-only: methods that assume an encoder refuse or note it
    if teacher is not None and teacher.is_pair:
        extra["teacher_pair_mode"] = teacher.pair_mode
        if teacher.separate:
            extra["teacher_pooled_hidden"] = 2 * teacher.hidden_size
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        method = method_cls(MethodContext(task=task.name, num_labels=data.num_labels, student_family=family,
                                          student_layers=model.config.num_hidden_layers, student_hidden=state_width,
                                          teacher_layers=t_layers, teacher_hidden=t_hidden, extra=extra),
                            cfg.method.params, paper_faithful=cfg.method.paper_faithful)
    method_warnings = [str(w.message) for w in caught]
    if cache is not None:
        reason = cache.source.can_serve(method)  # the token layers the built method reads
        if reason:
            raise ConfigError(reason, path=cache.folder)
        token_layers = tuple(method.teacher_token_layers()) if reads_tokens(method) else ()
        teacher_outputs = cache.lookup_fn(data, ("train",), pooled=needs.pooled_states, token_layers=token_layers)
        teacher = None  # never run: the cache stands in for it
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    side = student_side(model, tokenizer, cfg.train.max_length, pad_to_max_length=cfg.train.pad_to_max_length,
                        with_offsets=needs.token_alignment)
    tside = teacher_side(teacher, pad_to_max_length=cfg.train.pad_to_max_length) if teacher is not None else None

    def save_best(m: torch.nn.Module, folder: Path) -> None:
        save_student(m, tokenizer, folder, spec)

    def load_best(folder: Path) -> torch.nn.Module:
        return load_student(folder, with_tokenizer=False)[0]

    transfer = None
    if cfg.transfer is not None:
        if teacher is None:
            raise ConfigError("transfer data needs the live teacher; drop --teacher-cache")
        transfer = load_transfer(cfg.transfer, data, cfg.normalization)

    info = {"role": "student", "student": cfg.student.preset, "family": family,
            "params": sum(p.numel() for p in model.parameters()), "vocab_size": len(tokenizer),
            "init_from": cfg.student.init_from,
            "teacher_source": str(cfg.teacher.path) if needs.teacher else None,
            "teacher_cache": bool(teacher_outputs is not None), "method_warnings": method_warnings,
            "teacher_causal": bool(extra.get("teacher_causal", False))}
    if cache is not None and teacher_outputs is not None:
        info["teacher_cache_reads"] = cache.read_stats  # filled as the run goes (this process's reads)
    layer_map = getattr(method, "layer_map", None)
    if layer_map is not None:
        info["layer_map"] = str(layer_map)
    aux = method.modules()
    if aux is not None:
        info["method_module_params"] = sum(p.numel() for p in aux.parameters())  # trained, never exported
    if teacher is not None:
        info["memory_estimate"] = _live_memory(cfg, teacher, method, info["params"], needs, progress)
    if transfer is not None:
        info["transfer"] = {"path": transfer.path, "examples": len(transfer),
                            "dropped_overlap_with_valid_test": transfer.dropped_overlap}
    job = TrainJob(cfg=cfg, task=task, data=data, student=side, method=method, save_best=save_best,
                   load_best=load_best, teacher=tside, teacher_outputs=teacher_outputs, info=info, transfer=transfer,
                   transfer_weight=cfg.transfer.weight if cfg.transfer else 1.0,
                   transfer_batch_size=cfg.transfer.batch_size if cfg.transfer else None)
    _warn_small_data(cfg, data)
    return run_training(job, resume=resume, progress=progress, stop_after=stop_after)
