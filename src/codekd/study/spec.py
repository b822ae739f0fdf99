"""Study files: the experiment matrix as one validated YAML file, expanded into runs.

A study is tasks x teachers x students x methods x seeds. Expansion gives three kinds of jobs, in
dependency order:

``teacher``  fine-tune a base model on a task (once per task x teacher that asks for it);
``cache``    the frozen teacher's logits (and per-layer pooled states when PKD is in the study) for
             the methods that need nothing else (KD, DIST, DKD, PKD; once per task x teacher);
``student``  one distillation run (FT runs need no teacher and are shared by every teacher).

Each job has a stable key: the hash of its resolved :class:`~codekd.config.RunConfig` (the output
folder excluded), so the same run in two studies or two sessions is the same run. Relative paths in
a study file are relative to the file.

Minimal example::

    name: offline
    out: runs/offline
    tasks:
      exception: {data: data/exception}
    teachers:
      minilm: {base: minilm, finetune: true, train: {lr: 5.0e-5, epochs: 2}}
    students: [gru-1.5m, roberta-1.5m]
    # a teacher adapted to code (codekd pretrain mlm --model minilm ...) is one more teacher, and a
    # pre-trained student one more student:
    #   teachers: {minilm-code: {base: runs/minilm-code, finetune: true, code_specific: true}}
    #   students: [gru-1.5m, {name: gru-1.5m-mlm, preset: gru-1.5m, init_from: runs/gru-mlm}]
    methods:
      ft: {}
      kd: {}
      ckd: {per_student: {roberta-1.5m: {train: {batch_size: 16}}}}
    seeds: [42]
    train: {epochs: 5, max_length: 256}
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field

from ..config import RunConfig, StrictModel, TrainConfig, load_yaml, set_dotted, validate
from ..errors import ConfigError
from ..methods import METHODS
from ..methods.base import MethodContext
from ..methods.compat import check_run_config
from ..methods.sources import TeacherSource
from ..tasks import get_task

SCHEMA_VERSION = 1


# The shared teacher cache of a task x teacher, as planned: which methods it can serve (one owner
# decides: TeacherSource.can_serve) and whether it must hold pooled or token states.
_LOGITS_CACHE = TeacherSource.cache(pooled=False)
_POOLED_CACHE = TeacherSource.cache(pooled=True)
_TOKEN_CACHE = TeacherSource.cache(pooled=True, token_layers=None)  # the layers the methods read


def _cacheable(method: str) -> bool:
    """Whether the method runs from a shared cache without token states."""
    cls = METHODS.get(method)
    return cls.needs.teacher and _POOLED_CACHE.can_serve(cls) is None


def _cache_needs_pooled(methods: Any) -> bool:
    return any(_cacheable(m) and _LOGITS_CACHE.can_serve(METHODS.get(m)) is not None for m in methods)


def _token_cacheable(method: str) -> bool:
    """Whether the method runs from a shared cache only when it holds token states."""
    cls = METHODS.get(method)
    return cls.needs.teacher and not _cacheable(method) and _TOKEN_CACHE.can_serve(cls) is None


def _teacher_shape(source: str) -> tuple[int, int] | None:
    """(layers, hidden) of a teacher from its config alone (no weights), or None if unreadable."""
    try:
        from transformers import AutoConfig

        from ..models.hf import resolve_model_name

        c = AutoConfig.from_pretrained(resolve_model_name(source))
        return int(c.num_hidden_layers), int(c.hidden_size)
    except Exception:
        return None


def _token_layers_read(spec: "StudySpec", task: str, teacher_src: str) -> tuple[int, ...]:
    """The teacher layers whose token states the study's token-reading methods (CKD) read, over
    every student: what a token-state teacher cache must hold."""
    from ..engine.runs import student_spec

    shape = _teacher_shape(teacher_src)
    if shape is None:
        return ()
    layers: set[int] = set()
    for entry in spec.students:
        name = student_name(entry)
        preset = entry if isinstance(entry, str) else entry.preset
        for mname, m in spec.methods.items():
            if not _token_cacheable(mname):
                continue
            over = m.per_student.get(name, {})
            params = _merge(m.params, over.get("params", {}))
            cfg = validate(RunConfig, {"task": task, "data": "", "out": "", "student": {"preset": preset}})
            st = student_spec(cfg)
            width = 2 * st.hidden if st.family == "gru" else st.hidden
            ctx = MethodContext(task=task, num_labels=get_task(task).num_labels or 2, student_family=st.family,
                                student_layers=st.layers, student_hidden=width, teacher_layers=shape[0],
                                teacher_hidden=shape[1])
            read = METHODS.get(mname)(ctx, params, paper_faithful=m.paper_faithful).teacher_token_layers()
            layers.update(read or ())
    return tuple(sorted(layers))


class TaskEntry(StrictModel):
    data: str
    fraction: Optional[float] = Field(None, gt=0, le=1)
    normalization: Optional[str] = None  # validated with the run config


class TeacherEntry(StrictModel):
    """``path`` = an already fine-tuned teacher (one folder, or one per task); ``base`` + ``finetune``
    = fine-tune this hub id / alias / folder on each task first."""

    path: Optional[str | dict[str, str]] = None
    base: Optional[str] = None
    finetune: bool = False
    code_specific: Optional[bool] = Field(None, description="For the report's teacher finding.")
    pair_mode: Literal["joint", "separate"] = "joint"
    pooling: Optional[Literal["cls", "mean", "last"]] = Field(None, description="Fine-tuning head input (default: "
                                                                              "by model; last for a decoder).")
    freeze_layers: Optional[int] = Field(None, ge=0, description="Fine-tuning: freeze (and replay) the embeddings "
                                                                "and the bottom N layers.")
    train: dict[str, Any] = Field(default_factory=dict, description="Overrides of the shared train settings for fine-tuning.")
    label: Optional[str] = None


class MethodEntry(StrictModel):
    params: dict[str, Any] = Field(default_factory=dict)
    paper_faithful: bool = False
    train: dict[str, Any] = Field(default_factory=dict)
    per_student: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                    description="student -> {params: {...}, train: {...}} overrides")


class StudentEntry(StrictModel):
    """A named student: a preset started from given weights (e.g. ``codekd pretrain mlm`` output),
    so "pre-trained" and "from scratch" can be two students of one study::

        students: [gru-1.5m, {name: gru-1.5m-mlm, preset: gru-1.5m, init_from: runs/gru-mlm}]
    """

    name: str
    preset: str
    init_from: Optional[str] = Field(None, description="Start from these weights (a pre-trained student folder).")
    vocab: Optional[str] = Field(None, description="Tokenizer folder (default: init_from's own, else trained).")


class BenchEntry(StrictModel):
    enabled: bool = True
    seq_len: int = 256
    threads: int = Field(1, ge=1, description="Fixed CPU thread count for every model (1: no thread stalls "
                                              "on a loaded machine; see benchmarks/RESULTS.md)")
    repeats: int = 5


class StudySpec(StrictModel):
    schema_version: int = SCHEMA_VERSION
    name: str = "study"
    out: str = "runs/study"
    tasks: dict[str, TaskEntry]
    teachers: dict[str, TeacherEntry] = Field(default_factory=dict)
    students: list[str | StudentEntry]
    methods: dict[str, MethodEntry]
    seeds: list[int] = Field(default_factory=lambda: [42])
    normalization: str = "whitespace"
    train: dict[str, Any] = Field(default_factory=dict)
    teacher_cache: bool = True
    teacher_cache_tokens: bool = Field(
        False, description="Also cache the token states CKD reads (its mapped teacher layers, float16), so CKD "
                           "runs without the teacher; ~2*H bytes per token and layer: for small teachers and data.")
    bench: BenchEntry = Field(default_factory=BenchEntry)


@dataclass
class Job:
    """One unit of work: a teacher fine-tune, a teacher cache, or a student run."""

    kind: Literal["teacher", "cache", "student"]
    key: str
    cfg: RunConfig
    task: str
    teacher: Optional[str] = None
    student: Optional[str] = None
    method: Optional[str] = None
    seed: Optional[int] = None
    depends_on: list[str] = field(default_factory=list)
    cache_dir: Optional[str] = None   # for kind == "cache": where it goes
    cache_pooled: bool = False        # for kind == "cache": also store per-layer pooled states
    cache_token_layers: tuple[int, ...] = ()  # for kind == "cache": token states of these teacher layers

    @property
    def out(self) -> str:
        return self.cache_dir if self.kind == "cache" else self.cfg.out

    def describe(self) -> str:
        if self.kind == "teacher":
            return f"teacher {self.teacher} on {self.task}"
        if self.kind == "cache":
            return f"cache {self.teacher} on {self.task}"
        t = self.teacher or "-"
        return f"{self.task} {t} {self.student} {self.method} seed {self.seed}"


def student_name(entry: "str | StudentEntry") -> str:
    return entry if isinstance(entry, str) else entry.name


def _student_raw(entry: "str | StudentEntry", root: Path) -> dict[str, Any]:
    if isinstance(entry, str):
        return {"preset": entry}
    raw: dict[str, Any] = {"preset": entry.preset}
    if entry.init_from:
        raw["init_from"] = _abs(entry.init_from, root)
    if entry.vocab:
        raw["vocab"] = _abs(entry.vocab, root)
    return raw


def _key(cfg: RunConfig, kind: str) -> str:
    d = cfg.model_dump(mode="json")
    d.pop("out", None)
    return hashlib.sha256(json.dumps({"kind": kind, **d}, sort_keys=True).encode()).hexdigest()[:12]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _abs(path: str, root: Path) -> str:
    """Existing (or ./-relative) paths resolve against the study file's folder; hub ids and aliases
    stay as given."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return str(p)
    if (root / p).exists() or str(path).startswith(("./", "../")):
        return str((root / p).resolve())
    return str(path)


def _out_root(spec: "StudySpec", root: Path) -> Path:
    return Path(spec.out) if Path(spec.out).is_absolute() else (root / spec.out).resolve()


def load_study(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[StudySpec, Path]:
    """Validate a study file (and ``key.path=value`` overrides); returns the spec and the file's folder."""
    import yaml

    path = Path(path)
    data = load_yaml(path)
    spec = validate(StudySpec, data, source=path)  # the file's own errors name the file
    _check_sections(spec, path)
    if overrides:
        data = copy.deepcopy(data)
        for ov in overrides:
            if "=" not in ov:
                raise ConfigError(f"override {ov!r} must look like key.path=value")
            k, _, v = ov.partition("=")
            try:
                value = yaml.safe_load(v)
            except yaml.YAMLError:
                value = v
            set_dotted(data, k.strip(), value)
        spec = validate(StudySpec, data, source="--set")  # ... and an override's errors name --set
        _check_sections(spec, "--set")
    root = path.resolve().parent
    for name in spec.tasks:
        get_task(name)  # unknown task names fail here, with the registry's suggestion
    for tname, t in spec.teachers.items():
        if t.path is None and t.base is None:
            raise ConfigError(f"teacher {tname!r}: give 'path' (fine-tuned) or 'base' with finetune: true", path=path)
        if t.base is not None and not t.finetune and t.path is None:
            raise ConfigError(f"teacher {tname!r}: 'base' needs finetune: true (or give a fine-tuned 'path')", path=path)

    for m in spec.methods:
        METHODS.get(m)
    names = [student_name(s) for s in spec.students]
    if len(set(names)) != len(names):
        raise ConfigError(f"student names must be unique (got {names})", path=path)
    for st in spec.students:
        if isinstance(st, StudentEntry):
            from ..models.students.presets import resolve_spec

            resolve_spec(st.preset)
            if st.init_from and not (root / st.init_from).exists() and not Path(st.init_from).exists():
                raise ConfigError(f"student {st.name!r}: init_from folder {st.init_from!r} does not exist", path=path)
    needs_teacher = [m for m in spec.methods if METHODS.get(m).needs.teacher]
    if needs_teacher and not spec.teachers:
        raise ConfigError(f"methods {needs_teacher} need a teacher but the study has none", path=path)
    return spec, root


def _check_sections(spec: StudySpec, source: str | Path) -> None:
    """The free-form sections of a study (train settings, method parameters) validated as the runs
    will validate them, so a typo or a wrong type fails at plan time, naming the field."""

    validate(TrainConfig, spec.train, source=source, prefix="train")
    for tname, t in spec.teachers.items():
        validate(TrainConfig, _merge(spec.train, t.train), source=source, prefix=f"teachers.{tname}.train")
    names = {student_name(s) for s in spec.students}
    for mname, m in spec.methods.items():
        cls = METHODS.get(mname)
        validate(TrainConfig, _merge(spec.train, m.train), source=source, prefix=f"methods.{mname}.train")
        _method_params(cls, m.params, m.paper_faithful, f"methods.{mname}.params", source)
        for student, over in m.per_student.items():
            where = f"methods.{mname}.per_student.{student}"
            if student not in names:
                raise ConfigError(f"{where}: no student named {student!r} in this study "
                                  f"(students: {', '.join(sorted(names))})", path=source)
            if not isinstance(over, dict):
                raise ConfigError(f"{where} must be a mapping with params / train", path=source)
            unknown = set(over) - {"params", "train"}
            if unknown:
                raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (use params / train)", path=source)
            if not isinstance(over.get("params", {}), dict) or not isinstance(over.get("train", {}), dict):
                raise ConfigError(f"{where}: params and train must be mappings", path=source)
            _method_params(cls, _merge(m.params, over.get("params", {})), m.paper_faithful, f"{where}.params", source)
            validate(TrainConfig, _merge(_merge(spec.train, m.train), over.get("train", {})), source=source,
                     prefix=f"{where}.train")


def _method_params(cls: Any, params: dict[str, Any], paper_faithful: bool, where: str, source: str | Path) -> None:
    try:
        cls.resolve_params(params, paper_faithful)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", path=source) from None


def expand(spec: StudySpec, root: Path) -> list[Job]:
    """All jobs of a study in dependency order (teachers, caches, students)."""

    out_root = _out_root(spec, root)
    jobs: list[Job] = []
    teacher_dirs: dict[tuple[str, str], str] = {}
    teacher_keys: dict[tuple[str, str], str] = {}
    cache_dirs: dict[tuple[str, str], str] = {}
    cache_keys: dict[tuple[str, str], str] = {}
    cache_tokens: dict[tuple[str, str], bool] = {}
    for task, tentry in spec.tasks.items():
        data = str((root / tentry.data).resolve()) if not Path(tentry.data).is_absolute() else tentry.data
        norm = tentry.normalization or spec.normalization
        common = {"task": task, "data": data, "normalization": norm, "fraction": tentry.fraction}
        for tname, t in spec.teachers.items():
            if t.finetune:
                train = _merge(spec.train, t.train)
                raw = {**common, "kind": "finetune", "out": "", "teacher": {"path": _abs(t.base or "", root),
                                                                          "pair_mode": t.pair_mode,
                                                                          "pooling": t.pooling,
                                                                          "freeze_layers": t.freeze_layers},
                       "train": train}
                cfg = validate(RunConfig, raw)
                key = _key(cfg, "teacher")
                cfg = cfg.model_copy(update={"out": str(out_root / "teachers" / f"{task}-{tname}-{key}")})
                jobs.append(Job("teacher", key, cfg, task, teacher=tname))
                teacher_dirs[(task, tname)] = cfg.out
                teacher_keys[(task, tname)] = key
            else:
                p = t.path.get(task) if isinstance(t.path, dict) else t.path
                if p is None:
                    raise ConfigError(f"teacher {tname!r} has no path for task {task!r} (teachers.{tname}.path lists "
                                      f"{', '.join(map(str, t.path)) if isinstance(t.path, dict) else 'none'})")
                teacher_dirs[(task, tname)] = _abs(p, root)
            token_layers: tuple[int, ...] = ()
            if spec.teacher_cache and spec.teacher_cache_tokens and any(_token_cacheable(m) for m in spec.methods):
                token_layers = _token_layers_read(spec, task, _abs(t.base or "", root) if t.finetune
                                                  else teacher_dirs[(task, tname)])
            if spec.teacher_cache and (any(_cacheable(m) for m in spec.methods) or token_layers):
                pooled = _cache_needs_pooled(spec.methods)
                tcfg = validate(RunConfig, {**common, "out": "", "teacher": {"path": teacher_dirs[(task, tname)],
                                                                            "pair_mode": t.pair_mode},
                                            "train": spec.train})
                kind = "cache" + ("+pooled" if pooled else "") + (f"+tokens{list(token_layers)}" if token_layers else "")
                key = _key(tcfg, "cache")
                if kind != "cache":  # what the cache holds is not part of the run config: key it apart
                    key = hashlib.sha256(f"{key}:{kind}".encode()).hexdigest()[:12]
                cdir = str(out_root / "caches" / f"{task}-{tname}-{key}")
                deps = [teacher_keys[(task, tname)]] if (task, tname) in teacher_keys else []
                jobs.append(Job("cache", key, tcfg, task, teacher=tname, depends_on=deps, cache_dir=cdir,
                                cache_pooled=pooled, cache_token_layers=token_layers))
                cache_tokens[(task, tname)] = bool(token_layers)
                cache_dirs[(task, tname)] = cdir
                cache_keys[(task, tname)] = key
        seen_ft: set[str] = set()
        for sentry in spec.students:
            student = student_name(sentry)
            for mname, m in spec.methods.items():
                needs_teacher = METHODS.get(mname).needs.teacher
                over = m.per_student.get(student, {})
                unknown = set(over) - {"params", "train"}
                if unknown:
                    raise ConfigError(f"methods.{mname}.per_student.{student}: unknown keys {sorted(unknown)} "
                                      "(use params / train)")
                params = _merge(m.params, over.get("params", {}))
                train = _merge(_merge(spec.train, m.train), over.get("train", {}))
                teachers = list(spec.teachers) if needs_teacher else [None]
                for tname in teachers:
                    for seed in spec.seeds:
                        raw = {**common, "kind": "distill", "out": "", "student": _student_raw(sentry, root),
                               "method": {"name": mname, "params": params, "paper_faithful": m.paper_faithful},
                               "train": _merge(train, {"seed": seed})}
                        deps: list[str] = []
                        if tname is not None:
                            raw["teacher"] = {"path": teacher_dirs[(task, tname)],
                                              "pair_mode": spec.teachers[tname].pair_mode}
                            if (task, tname) in teacher_keys:
                                deps.append(teacher_keys[(task, tname)])
                            if (task, tname) in cache_dirs and (
                                    _cacheable(mname) or (_token_cacheable(mname) and cache_tokens[(task, tname)])):
                                raw["teacher"]["cache"] = cache_dirs[(task, tname)]
                                deps.append(cache_keys[(task, tname)])
                        cfg = validate(RunConfig, raw, source=f"student {student}, method {mname}")
                        try:  # method x student x task, as distill checks it (no data or model needed)
                            check_run_config(cfg)
                        except ConfigError as exc:
                            raise ConfigError(f"task {task}, student {student}, method {mname}: {exc.message}") from None
                        key = _key(cfg, "student")
                        if key in seen_ft:
                            continue
                        seen_ft.add(key)
                        label = tname or "none"
                        cfg = cfg.model_copy(update={"out": str(out_root / "runs" / f"{task}-{label}-{student}-{mname}-s{seed}-{key}")})
                        jobs.append(Job("student", key, cfg, task, teacher=tname, student=student, method=mname,
                                        seed=seed, depends_on=deps))
    return jobs


def study_db_path(spec: StudySpec, root: Path) -> Path:
    return _out_root(spec, root) / "study.sqlite"
