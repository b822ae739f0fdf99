"""Masked-LM training on unlabeled code, with the one training engine.

Two uses:

* **Domain-adaptive pre-training of a teacher** (``model`` = hub id, alias such as ``minilm``, or a
  folder): continued masked-LM training of a general encoder on real code. The result is a Hugging
  Face folder (``AutoModelForMaskedLM`` weights, plus the source's pooler when it had one, and the
  tokenizer) that works everywhere a teacher does: ``Teacher.load(OUT)``, ``codekd teacher finetune
  --teacher OUT``, a study teacher's ``base``. With ``normalization: structure`` (or
  ``add_structure_tokens``) the ``<nl>``/``<indent>``/``<dedent>`` markers are added as tokens that
  an uncased tokenizer cannot change, and the embedding table grows to hold them (new rows learn
  during the adaptation).
* **Pre-training a student** (``model`` = a preset such as ``gru-1.5m``, or a pre-trained student
  folder to continue): the student's own byte-level BPE vocabulary (trained on the corpus's training
  functions, or ``vocab``) and a masked-LM head (RoBERTa: ``RobertaForMaskedLM``; BiGRU: a
  per-token projection of the BiGRU outputs, tied with the word embeddings). ``distill --student
  OUT`` (or ``student.init_from: OUT``) then starts from these weights with a new classifier.

How it runs: the corpus (:mod:`codekd.pretrain.mlm_corpus`) is built into ``OUT/corpus``; the engine's
:func:`~codekd.engine.trainer.run_training` trains with an :class:`MLMMethod` (cross-entropy on the
masked positions only; the vocabulary projection is computed only there), masking in the collate step
with the global torch generator (saved in every checkpoint, so a resumed run masks exactly like an
uninterrupted one). Held-out perplexity (``exp`` of the mean token loss over a fixed masking of the
held-out functions) is measured before training, every ``eval_every`` steps and at each epoch end,
and selects the kept weights. Logs (``log.jsonl``), checkpoints, resume and progress bars are the
engine's. The final model files are placed at the top of ``OUT`` (beside ``metrics.json``,
``log.jsonl``, ``config.yaml`` and ``codekd_pretrain.json``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..config import PretrainSpec, RunConfig, TrainConfig, apply_overrides, load_yaml, set_dotted, validate
from ..data.loaders import TaskData
from ..data.normalize import STRUCTURE_TOKENS, normalize_code, parse_normalization
from ..engine.batching import code_lengths, eval_batches, to_device
from ..engine.runs import check_run_folder, student_spec
from ..engine.sides import ModelSide
from ..engine.trainer import TrainJob, finished_metrics, run_training, set_seed
from ..errors import ConfigError, ModelLoadError
from ..methods.base import Method, MethodContext, Needs, Outputs
from ..models.hf import hf_load, position_limit, quiet_transformers, resolve_model_name
from ..tasks import Task
from ..vocab import read_vocab_meta, train_vocab_on_texts
from .masking import IGNORE, mask_tokens
from .mlm_corpus import CorpusSplit, build_corpus

# codekd.models.students, transformers, tokenizers and safetensors are imported where they are used: the
# students package loads transformers, which importing this module (codekd.pretrain) does not need.

MLM_TASK = Task(name="mlm", input_kind="single", metric="accuracy", selection=("neg_loss",),
                description="masked-LM pre-training (not a classification task)")
PRETRAIN_FILE = "codekd_pretrain.json"
CORPUS_DIR = "corpus"
TEACHER_LR, STUDENT_LR = 5e-5, 5e-4


# ------------------------------------------------------------------------------------ the method

class MLMMethod(Method):
    """Masked-LM cross-entropy over the scored (masked) positions; no teacher, no labels."""

    name = "mlm"
    description = "masked-LM pre-training objective (codekd pretrain mlm; not a distillation method)"
    needs = Needs(teacher=False, logits=False)
    families = ("roberta", "gru", "teacher")

    def loss(self, student: Outputs, teacher: Outputs | None, labels: torch.Tensor | None,
             modules: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        if student.targets is None:
            raise ConfigError("the masked-LM objective needs per-position targets (an MLM model side)")
        if student.targets.numel() == 0:  # nothing masked in this batch (tiny inputs): a zero loss with a graph
            loss = student.logits.sum() * 0.0
        else:
            loss = nn.functional.cross_entropy(student.logits.float(), student.targets)
        return loss, {"masked_tokens": float(student.targets.numel())}


# ------------------------------------------------------------------------------------ model side

def _head(model: nn.Module):
    """The masked-LM head as a function of hidden states ``[N, H]`` (None: run the full forward)."""
    cls = type(model).__name__
    if cls == "BertForMaskedLM":
        return model.cls
    if cls in ("RobertaForMaskedLM", "XLMRobertaForMaskedLM", "CamembertForMaskedLM", "BiGRUForMaskedLM"):
        return model.lm_head
    if cls == "ModernBertForMaskedLM":
        return lambda h: model.decoder(model.head(h))
    return None


def special_ids(tokenizer: Any) -> list[int]:
    """The ids never masked: bos/eos/cls/sep/pad/mask/unk (added structure markers are content)."""
    out = []
    for name in ("bos_token_id", "eos_token_id", "cls_token_id", "sep_token_id", "pad_token_id",
                 "mask_token_id", "unk_token_id"):
        v = getattr(tokenizer, name, None)
        if v is not None:
            out.append(int(v))
    return sorted(set(out))


@dataclass
class MLMEncoder:
    """Tokenise normalised code and mask it (see :func:`codekd.pretrain.masking.mask_tokens`)."""

    tokenizer: Any
    max_length: int
    prob: float = 0.15
    mode: str = "token"
    span_mean: float = 3.0
    generator: torch.Generator | None = None

    def __post_init__(self) -> None:
        if self.tokenizer.mask_token_id is None:
            raise ConfigError("the tokenizer has no mask token; masked-LM training needs one")
        self._special = special_ids(self.tokenizer)
        self._vocab = len(self.tokenizer)

    def __call__(self, codes: Sequence[tuple[str, ...]]) -> dict[str, torch.Tensor]:
        texts = [c[0] for c in codes]
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding="longest",
                             return_tensors="pt")
        word_ids = [enc.word_ids(i) for i in range(len(texts))] if self.mode == "whole_word" else None
        ids, labels = mask_tokens(enc["input_ids"], enc["attention_mask"], self._special,
                                  mask_id=int(self.tokenizer.mask_token_id), vocab_size=self._vocab, prob=self.prob,
                                  mode=self.mode, word_ids=word_ids, span_mean=self.span_mean,
                                  generator=self.generator)
        return {"input_ids": ids, "attention_mask": enc["attention_mask"], "mlm_labels": labels}


def mlm_forward(model: nn.Module, enc: dict[str, torch.Tensor], hidden: bool = False) -> Outputs:
    """Run a masked-LM model; ``logits`` / ``targets`` hold the scored positions only ([N, V], [N])."""
    labels = enc["mlm_labels"]
    sel = labels != IGNORE
    head = _head(model)
    if head is not None:
        base = getattr(model, model.base_model_prefix)
        states = base(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        logits = head(states[sel])
    else:  # any other AutoModelForMaskedLM: full logits, then the scored positions
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[sel]
    return Outputs(logits=logits, targets=labels[sel], attention_mask=enc["attention_mask"])


def mlm_side(model: nn.Module, encoder: MLMEncoder):
    return ModelSide("student", model, encoder, mlm_forward)


@torch.no_grad()
def heldout_metrics(model: nn.Module, split: Any, tokenizer: Any, *, max_length: int, normalization: str,
                    batch_size: int = 32, prob: float = 0.15, mode: str = "token", span_mean: float = 3.0,
                    seed: int = 0, device: torch.device | str = "cpu") -> dict[str, float]:
    """Masked-LM loss, perplexity and accuracy on ``split`` with a fixed masking (private generator).

    The same (model tokenizer, split, seed) gives the same masked positions every time, so two
    evaluations (before / after training) compare the same predictions.
    """
    gen = torch.Generator().manual_seed(10_007 + int(seed))
    enc = MLMEncoder(tokenizer, max_length, prob, mode, span_mean, generator=gen)
    was = model.training
    model.eval()
    total, n, correct = 0.0, 0, 0
    for idxs in eval_batches(len(split), batch_size, code_lengths(split, normalization)):
        codes = [tuple(normalize_code(c, normalization) for c in tup) for tup in split.codes(idxs)]
        out = mlm_forward(model, to_device(enc(codes), device))
        if out.targets.numel() == 0:
            continue
        logits = out.logits.float()
        total += float(nn.functional.cross_entropy(logits, out.targets, reduction="sum"))
        correct += int((logits.argmax(-1) == out.targets).sum())
        n += int(out.targets.numel())
    model.train(was)
    loss = total / n if n else float("nan")
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)) if n else float("nan"),
            "accuracy": correct / n if n else float("nan"), "tokens": n, "functions": len(split)}


# ------------------------------------------------------------------------------------ models

def _is_student_folder(path: str) -> bool:
    from ..models.students.presets import STUDENT_SPEC_FILE

    return Path(path, STUDENT_SPEC_FILE).is_file()


def _is_preset(name: str) -> bool:
    from ..models.students.presets import STUDENTS

    return name in STUDENTS.names() or name.lower().startswith("budget:")


def _mlm_student(spec: Any, tokenizer: Any) -> nn.Module:
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 1)
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if spec.family == "roberta":
        from transformers import RobertaForMaskedLM

        from ..models.students.roberta import roberta_config

        cfg = roberta_config(vocab_size=len(tokenizer), hidden=spec.hidden, layers=spec.layers,
                             heads=int(spec.heads or 1), ffn=int(spec.ffn or 4 * spec.hidden), num_labels=2,
                             max_positions=spec.max_positions, dropout=spec.dropout, pad_token_id=pad,
                             bos_token_id=bos, eos_token_id=eos)
        cfg.tie_word_embeddings = True
        return RobertaForMaskedLM(cfg)
    from ..models.students.gru import BiGRUConfig, BiGRUForMaskedLM

    cfg = BiGRUConfig(vocab_size=len(tokenizer), hidden_size=spec.hidden, num_hidden_layers=spec.layers,
                      max_position_embeddings=spec.max_positions, hidden_dropout_prob=spec.dropout,
                      pad_token_id=pad, bos_token_id=bos, eos_token_id=eos, tie_word_embeddings=True)
    return BiGRUForMaskedLM(cfg)


def _add_structure_tokens(tokenizer: Any, model: nn.Module) -> int:
    from tokenizers import AddedToken

    new = [t for t in STRUCTURE_TOKENS if t not in tokenizer.get_vocab()]
    if new:  # as in Teacher.add_tokens: special, so an uncased normaliser never changes them
        tokenizer.add_tokens([AddedToken(t, normalized=False, special=True) for t in new], special_tokens=True)
        model.resize_token_embeddings(len(tokenizer))
    return len(new)


def _base_extras(src: str, mlm: nn.Module) -> dict[str, torch.Tensor]:
    """Weights of the source's base model that the masked-LM class drops (BERT's pooler, which a
    sequence classifier reads): kept so a teacher fine-tuned from the adapted folder starts from them."""
    from transformers import AutoModel

    try:
        base, info = hf_load(AutoModel.from_pretrained, src, what="teacher", output_loading_info=True)
    except ModelLoadError:
        return {}
    missing = set(info.get("missing_keys", ()))
    have = set(getattr(mlm, mlm.base_model_prefix).state_dict())
    prefix = mlm.base_model_prefix
    return {f"{prefix}.{k}": v.detach().clone().contiguous() for k, v in base.state_dict().items()
            if k not in have and k not in missing}


def _write_extras(folder: Path, extras: dict[str, torch.Tensor]) -> None:
    if not extras:
        return
    from safetensors.torch import load_file, save_file

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        save_file(extras, str(folder / "codekd-extra.safetensors"), metadata={"format": "pt"})
        idx = json.loads(index.read_text())
        idx.setdefault("weight_map", {}).update({k: "codekd-extra.safetensors" for k in extras})
        index.write_text(json.dumps(idx, indent=2))
        return
    f = folder / "model.safetensors"
    state = load_file(str(f))
    state.update({k: v for k, v in extras.items() if k not in state})
    save_file(state, str(f), metadata={"format": "pt"})


# ------------------------------------------------------------------------------------ config

def pretrain_config(model: str, corpus: Sequence[str | Path], out: str | Path, *, config: str | Path | None = None,
                    overrides: Sequence[str] = (), **fields: Any) -> RunConfig:
    """Build the run config of a masked-LM run (``fields``: dotted keys, e.g. ``"train.lr": 1e-4``).

    ``model``: a student preset (``gru-1.5m``), a pre-trained student folder, or a teacher (hub id,
    alias, folder). Learning rate default: 5e-5 for a teacher, 5e-4 for a student.
    """
    data: dict[str, Any] = load_yaml(config) if config else {}
    data.update({"kind": "pretrain", "task": MLM_TASK.name, "out": str(out)})
    data["data"] = str(Path(out) / CORPUS_DIR)
    student = _is_preset(str(model)) or _is_student_folder(str(model))
    if student:
        if _is_student_folder(str(model)):
            from ..models.students.presets import load_student_spec

            spec = load_student_spec(model)
            set_dotted(data, "student.preset", spec.name if spec and spec.name in _preset_names() else "gru-1.5m")
            set_dotted(data, "student.init_from", str(Path(model).resolve()))
        else:
            set_dotted(data, "student.preset", str(model))
    else:
        p = Path(str(model))
        set_dotted(data, "teacher.path", str(p.resolve()) if p.exists() else str(model))
    set_dotted(data, "pretrain.corpus", [str(Path(c).resolve()) for c in corpus])
    train = data.setdefault("train", {})
    train.setdefault("lr", STUDENT_LR if student else TEACHER_LR)
    train.setdefault("epochs", 1)
    train.setdefault("max_length", 256)
    for k, v in fields.items():
        if v is not None:
            set_dotted(data, k, v)
    cfg = validate(RunConfig, data, source=config)
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    return cfg


def _preset_names() -> list[str]:
    from ..models.students.presets import preset_names

    return preset_names()


# ------------------------------------------------------------------------------------ the run

def _publish(out: Path) -> None:
    """Move the kept model from ``OUT/best`` to the top of ``OUT`` (idempotent)."""
    best = out / "best"
    if not best.is_dir():
        return
    for f in best.iterdir():
        dst = out / f.name
        if dst.is_dir():
            shutil.rmtree(dst)
        os.replace(f, dst)
    shutil.rmtree(best, ignore_errors=True)


def _corpus(cfg: RunConfig, out: Path) -> tuple[Path, dict[str, Any], CorpusSplit, CorpusSplit]:
    """``OUT/corpus``, built once (a resumed run with the same corpus settings reuses it): its
    folder, stats and train / held-out splits."""
    ps: PretrainSpec = cfg.pretrain  # type: ignore[assignment]
    cdir = out / CORPUS_DIR
    corpus_settings = {"inputs": [str(Path(p).resolve()) for p in ps.corpus], "lang": ps.lang,
                       "exclude_data": [str(Path(p).resolve()) for p in ps.exclude_data],
                       "exclude_splits": list(ps.exclude_splits), "heldout_fraction": ps.heldout_fraction,
                       "max_functions": ps.max_functions, "min_chars": ps.min_chars, "seed": cfg.data_seed}
    stats_file = cdir / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.is_file() else None
    if stats is None or any(stats.get(k) != v for k, v in corpus_settings.items()):
        stats = build_corpus(ps.corpus, cdir, lang=ps.lang, exclude_data=ps.exclude_data,
                             exclude_splits=ps.exclude_splits, heldout_fraction=ps.heldout_fraction,
                             heldout_max=ps.heldout_max, max_functions=ps.max_functions, min_chars=ps.min_chars,
                             seed=cfg.data_seed)
    train_split = CorpusSplit(cdir / "train.jsonl", "train")
    valid_split = CorpusSplit(cdir / "heldout.jsonl", "valid")
    if len(valid_split) == 0:
        raise ConfigError("the corpus has no held-out functions to measure perplexity on")
    return cdir, stats, train_split, valid_split


def _fit_budget(cfg: RunConfig, n_train: int) -> RunConfig:
    """The config with a schedule that fits the budget: ``pretrain.max_examples`` as steps, and
    enough epochs for the steps."""
    ps: PretrainSpec = cfg.pretrain  # type: ignore[assignment]
    tc = cfg.train
    per_step = tc.batch_size * tc.grad_accum
    steps_per_epoch = max(1, math.ceil(n_train / tc.batch_size) // tc.grad_accum)
    updates: dict[str, Any] = {}
    if ps.max_examples is not None:
        steps = max(1, math.ceil(ps.max_examples / per_step))
        updates["max_steps"] = min(steps, tc.max_steps) if tc.max_steps else steps
    steps = updates.get("max_steps", tc.max_steps)
    if steps is not None and steps > steps_per_epoch * tc.epochs:
        updates["epochs"] = math.ceil(steps / steps_per_epoch)
    if updates:
        cfg = cfg.model_copy(update={"train": tc.model_copy(update=updates)})
    return cfg


@dataclass
class _Model:
    """The masked-LM model of a run, its tokenizer and how it is saved."""

    model: nn.Module
    tokenizer: Any
    family: str
    spec: Any = None  # the student spec (None: a teacher)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # a teacher's base weights the MLM class drops


def _teacher_model(cfg: RunConfig, info: dict[str, Any]) -> _Model:
    """Domain-adaptive pre-training of a (general) encoder: the teacher's masked-LM model."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    ps: PretrainSpec = cfg.pretrain  # type: ignore[assignment]
    base_norm, _ = parse_normalization(cfg.normalization)
    src = resolve_model_name(cfg.teacher.path)
    tokenizer = hf_load(AutoTokenizer.from_pretrained, src, what="tokenizer")
    model = hf_load(AutoModelForMaskedLM.from_pretrained, src, what="masked-LM model")
    add = ps.add_structure_tokens if ps.add_structure_tokens is not None else base_norm == "structure"
    info["structure_tokens_added"] = _add_structure_tokens(tokenizer, model) if add else 0
    extras = _base_extras(src, model)
    info.update(kind="teacher", source=str(cfg.teacher.path), architecture=model.config.model_type,
                base_extras=sorted(extras))
    return _Model(model, tokenizer, "teacher", extras=extras)


def _student_model(cfg: RunConfig, out: Path, cdir: Path, train_split: CorpusSplit, info: dict[str, Any]) -> _Model:
    """A student: a pre-trained one (``student.init_from``), or a new one of its preset with the
    given vocabulary or one trained on the corpus (``OUT/vocab``, kept while its settings hold)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from ..models.students.presets import load_student_spec

    ps: PretrainSpec = cfg.pretrain  # type: ignore[assignment]
    tc = cfg.train
    spec = student_spec(cfg)
    if cfg.student.init_from:
        spec = load_student_spec(cfg.student.init_from) or spec
        model = hf_load(AutoModelForMaskedLM.from_pretrained, cfg.student.init_from, what="pre-trained student")
        tokenizer = hf_load(AutoTokenizer.from_pretrained, cfg.student.init_from, what="student tokenizer")
    else:
        if cfg.student.vocab:
            tokenizer = hf_load(AutoTokenizer.from_pretrained, cfg.student.vocab, what="student vocabulary")
        else:
            size = ps.vocab_size or cfg.student.vocab_size or spec.vocab_size
            vdir = out / "vocab"
            meta = read_vocab_meta(vdir)
            wanted = {"requested_size": size, "normalization": cfg.normalization,
                      "model_max_length": tc.max_length, "corpus": str(cdir.resolve())}
            if not meta or any(meta.get(k) != v for k, v in wanted.items()):
                train_vocab_on_texts(lambda: (normalize_code(c, cfg.normalization) for c in train_split.rows),
                                     size, vdir, max_length=tc.max_length, normalization=cfg.normalization,
                                     meta={"corpus": str(cdir.resolve())}, source=cdir / "train.jsonl")
            tokenizer = AutoTokenizer.from_pretrained(str(vdir))
        model = _mlm_student(spec, tokenizer)
    family = "gru" if model.config.model_type == "codekd-bigru" else "roberta"
    info.update(kind="student", student=spec.name, family=family, vocab_size=len(tokenizer))
    return _Model(model, tokenizer, family, spec=spec)


def _prepare_model(m: _Model, cfg: RunConfig, info: dict[str, Any]) -> int:
    """Check the tokenizer against the embedding table, freeze the encoder of a control run, count
    the parameters; returns the sequence length (the model's position limit caps the config's)."""
    model, tokenizer = m.model, m.tokenizer
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        raise ConfigError(f"the tokenizer has {len(tokenizer)} tokens but the model's embedding table "
                          f"{model.get_input_embeddings().num_embeddings}")
    if cfg.pretrain.freeze_encoder:  # type: ignore[union-attr]
        # control run: the encoder (and tied embeddings) stay as they are, the head learns
        getattr(model, model.base_model_prefix).requires_grad_(False)
        info["trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    info["params"] = sum(p.numel() for p in model.parameters())
    limit = position_limit(model.config)
    return min(cfg.train.max_length, limit) if limit else cfg.train.max_length


def _train_job(cfg: RunConfig, m: _Model, max_length: int, cdir: Path, train_split: CorpusSplit,
               valid_split: CorpusSplit, info: dict[str, Any]) -> TrainJob:
    """The engine's job: the MLM objective on the corpus, scored by held-out loss, the best model
    saved as a student folder (a student) or a Hugging Face folder with its extras (a teacher)."""
    from transformers import AutoModelForMaskedLM

    ps: PretrainSpec = cfg.pretrain  # type: ignore[assignment]
    tc = cfg.train
    model, tokenizer, spec = m.model, m.tokenizer, m.spec
    encoder = MLMEncoder(tokenizer, max_length, ps.mask_prob, ps.masking, ps.span_mean)
    method = MLMMethod(MethodContext(task=MLM_TASK.name, num_labels=0, student_family=m.family,
                                     student_layers=int(model.config.num_hidden_layers),
                                     student_hidden=int(model.config.hidden_size)))

    def evaluate(mod: nn.Module, split: Any, device: torch.device) -> tuple[dict[str, Any], float]:
        r = heldout_metrics(mod, split, tokenizer, max_length=max_length, normalization=cfg.normalization,
                            batch_size=tc.eval_batch_size, prob=ps.mask_prob, mode=ps.masking,
                            span_mean=ps.span_mean, seed=tc.seed, device=device)
        return r, -r["loss"]

    def save_best(mod: nn.Module, folder: Path) -> None:
        from ..models.students.presets import save_student

        if spec is not None:
            save_student(mod, tokenizer, folder, spec)
        else:
            mod.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            _write_extras(folder, m.extras)

    def load_best(folder: Path) -> nn.Module:
        return AutoModelForMaskedLM.from_pretrained(str(folder))

    data = TaskData(task=MLM_TASK, root=str(cdir), format="corpus", labels=(), splits={"train": train_split,
                                                                                        "valid": valid_split})
    return TrainJob(cfg=cfg, task=MLM_TASK, data=data, student=mlm_side(model, encoder), method=method,
                    save_best=save_best, load_best=load_best, info=info, evaluate=evaluate,
                    eval_every=ps.eval_every, eval_initial=True,
                    max_train_seconds=ps.max_minutes * 60 if ps.max_minutes else None)


def _write_summary(out: Path, cfg: RunConfig, result: dict[str, Any], info: dict[str, Any], max_length: int) -> None:
    """``OUT/pretrain.json``: the run in a few numbers (before / after held-out scores)."""
    ps: PretrainSpec = cfg.pretrain  # type: ignore[assignment]
    summary = {"source": str(cfg.teacher.path or cfg.student.init_from or cfg.student.preset),
               "kind": info.get("kind"), "initial_valid": result.get("initial_valid"), "valid": result.get("valid"),
               "evals": result.get("evals"), "global_steps": result.get("global_steps"),
               "train_seconds": result.get("train_seconds"), "masking": ps.masking, "mask_prob": ps.mask_prob,
               "normalization": cfg.normalization, "max_length": max_length, "corpus": info["corpus"],
               "structure_tokens_added": info.get("structure_tokens_added")}
    (out / PRETRAIN_FILE).write_text(json.dumps(summary, indent=2, default=float) + "\n", encoding="utf-8")


def run_pretrain(cfg: RunConfig, *, resume: bool = True, progress: bool = True,
                 stop_after: int | None = None) -> dict[str, Any]:
    """Run a masked-LM config built by :func:`pretrain_config`; returns the metrics (also ``OUT/metrics.json``)."""
    if cfg.kind != "pretrain" or cfg.pretrain is None:
        raise ConfigError("not a pretrain config (kind: pretrain with a 'pretrain' section)")
    quiet_transformers()
    out = Path(cfg.out)
    check_run_folder(cfg)  # a file or a folder of the user's is refused before any work
    done = finished_metrics(out, cfg) if resume else None
    if done is not None:
        _publish(out)
        return done
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    cdir, stats, train_split, valid_split = _corpus(cfg, out)
    cfg = _fit_budget(cfg, len(train_split))
    set_seed(cfg.train.seed)
    info: dict[str, Any] = {"role": "pretrain", "corpus": {k: stats.get(k) for k in
                                                          ("train", "heldout", "heldout_scored", "duplicates",
                                                           "excluded_leak", "functions_seen", "by_language")}}
    m = _teacher_model(cfg, info) if cfg.teacher.path else _student_model(cfg, out, cdir, train_split, info)
    max_length = _prepare_model(m, cfg, info)
    job = _train_job(cfg, m, max_length, cdir, train_split, valid_split, info)
    result = run_training(job, resume=resume, progress=progress, stop_after=stop_after)
    _publish(out)
    _write_summary(out, cfg, result, info, max_length)
    return result


def mlm(model: str, corpus: Sequence[str | Path] | str | Path, out: str | Path, *,
        exclude_data: Sequence[str | Path] | str | Path | None = None, steps: int | None = None,
        examples: int | None = None, minutes: float | None = None, batch_size: int | None = None,
        max_length: int | None = None, lr: float | None = None, masking: str | None = None,
        mask_prob: float | None = None, normalization: str | None = None, vocab: str | None = None,
        vocab_size: int | None = None, threads: int | None = None, seed: int | None = None,
        eval_every: int | None = None, config: str | Path | None = None, overrides: Sequence[str] = (),
        resume: bool = True, progress: bool = True, stop_after: int | None = None,
        **fields: Any) -> dict[str, Any]:
    """Masked-LM training of a teacher (domain adaptation) or a student preset (pre-training).

    Python form of ``codekd pretrain mlm``; ``fields`` are further dotted config keys
    (``**{"pretrain.heldout_max": 200}``). Returns the run's metrics; the model is in ``out``.

    >>> codekd.pretrain.mlm("minilm", ["/usr/lib/python3.11"], "runs/minilm-code", minutes=5)  # doctest: +SKIP
    """
    if isinstance(corpus, (str, Path)):
        corpus = [corpus]
    if isinstance(exclude_data, (str, Path)):
        exclude_data = [exclude_data]
    cfg = pretrain_config(model, corpus, out, config=config, overrides=overrides, **{
        "pretrain.exclude_data": [str(Path(p).resolve()) for p in exclude_data] if exclude_data else None,
        "train.max_steps": steps, "pretrain.max_examples": examples, "pretrain.max_minutes": minutes,
        "train.batch_size": batch_size, "train.max_length": max_length, "train.lr": lr,
        "pretrain.masking": masking, "pretrain.mask_prob": mask_prob, "normalization": normalization,
        "student.vocab": str(Path(vocab).resolve()) if vocab else None, "pretrain.vocab_size": vocab_size,
        "train.num_threads": threads, "train.seed": seed, "pretrain.eval_every": eval_every, **fields})
    return run_pretrain(cfg, resume=resume, progress=progress, stop_after=stop_after)


__all__ = ["MLMEncoder", "MLMMethod", "MLM_TASK", "heldout_metrics", "mlm", "mlm_forward", "pretrain_config",
           "run_pretrain", "special_ids"]
