"""`codekd pretrain ...`: masked-LM training on unlabeled code (a thin layer over :mod:`codekd.pretrain`)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import console

app = typer.Typer(no_args_is_help=True)

SET_HELP = "Dotted override of any config field, e.g. --set pretrain.heldout_max=200 (repeatable)."


@app.command("mlm")
def mlm_cmd(
    model: str = typer.Option(..., "--model", "-m", help="Teacher to adapt (hub id, alias such as minilm, or folder), "
                              "or a student preset (gru-1.5m, roberta-7m, ...) / pre-trained student folder."),
    corpus: List[Path] = typer.Option(..., "--corpus", help="Source folder or file (.py via ast, .c/.h via "
                                      "tree-sitter), dataset folder or JSONL file (its 'func' field). Repeatable."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: the trained model (Hugging Face folder) "
                             "plus log.jsonl, metrics.json, codekd_pretrain.json and the corpus."),
    exclude_data: List[Path] = typer.Option([], "--exclude-data", help="Task dataset folder whose valid and test "
                                            "functions are removed from the corpus (leakage guard). Repeatable."),
    exclude_split: List[str] = typer.Option(["valid", "test"], "--exclude-split",
                                            help="Splits of --exclude-data to remove (repeatable)."),
    lang: str = typer.Option("auto", help="Source languages to extract from folders: auto | python | c."),
    steps: Optional[int] = typer.Option(None, help="Budget in optimizer steps."),
    examples: Optional[int] = typer.Option(None, help="Budget in training examples (sets the steps)."),
    minutes: Optional[float] = typer.Option(None, help="Budget in minutes of training (a cap; the LR schedule "
                                            "follows --steps/--examples/--epochs)."),
    epochs: Optional[int] = typer.Option(None, help="Passes over the corpus when no step budget is given (default 1)."),
    batch_size: Optional[int] = typer.Option(None, help="Batch size (default 32)."),
    max_length: Optional[int] = typer.Option(None, help="Max tokens per function (default 256)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default 5e-5 for a teacher, 5e-4 for a student)."),
    masking: Optional[str] = typer.Option(None, help="token (BERT, default) | whole_word | span (SpanBERT)."),
    mask_prob: Optional[float] = typer.Option(None, help="Share of tokens scored (default 0.15; 80/10/10)."),
    normalization: Optional[str] = typer.Option(None, help="whitespace (default) | structure (adds <nl>/<indent>/"
                                                "<dedent> tokens to a teacher) | none."),
    vocab: Optional[Path] = typer.Option(None, help="Student: tokenizer folder (default: trained on the corpus)."),
    vocab_size: Optional[int] = typer.Option(None, help="Student: size of the vocabulary trained on the corpus "
                                             "(default: the preset's)."),
    max_functions: Optional[int] = typer.Option(None, help="Keep at most this many corpus functions (seeded)."),
    eval_every: Optional[int] = typer.Option(None, help="Held-out perplexity every N steps (the curve in log.jsonl)."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads."),
    seed: Optional[int] = typer.Option(None, help="Training seed."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML run config."),
    set_: List[str] = typer.Option([], "--set", help=SET_HELP),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start over even if OUT has a checkpoint."),
) -> None:
    """Masked-LM training (15% masking, 80/10/10) on functions from real code, with a held-out perplexity.

    A teacher comes out as a Hugging Face folder usable wherever a teacher is (teacher finetune
    --teacher OUT, a study teacher's base); a student preset comes out as a pre-trained student
    that distill --student OUT starts from.
    """
    from ..pretrain.mlm import pretrain_config, run_pretrain

    cfg = pretrain_config(model, corpus, out, config=config, overrides=set_, **{
        "pretrain.exclude_data": [str(p.resolve()) for p in exclude_data] or None,
        "pretrain.exclude_splits": exclude_split, "pretrain.lang": lang,
        "train.max_steps": steps, "pretrain.max_examples": examples, "pretrain.max_minutes": minutes,
        "train.epochs": epochs, "train.batch_size": batch_size, "train.max_length": max_length, "train.lr": lr,
        "pretrain.masking": masking, "pretrain.mask_prob": mask_prob, "normalization": normalization,
        "student.vocab": str(vocab.resolve()) if vocab else None, "pretrain.vocab_size": vocab_size,
        "pretrain.max_functions": max_functions, "pretrain.eval_every": eval_every, "train.num_threads": threads,
        "train.seed": seed})
    r = run_pretrain(cfg, resume=not no_resume)
    before, after = r.get("initial_valid") or {}, r.get("valid") or {}
    c = r.get("corpus") or {}
    console.print(f"corpus: {c.get('train')} training / {c.get('heldout_scored', c.get('heldout'))} held-out functions "
                  f"({c.get('duplicates')} duplicates, {c.get('excluded_leak')} excluded as task valid/test code)")
    if before and after:
        console.print(f"held-out perplexity {before['perplexity']:.2f} -> {after['perplexity']:.2f} "
                      f"(masked-token accuracy {100 * before['accuracy']:.1f}% -> {100 * after['accuracy']:.1f}%) "
                      f"after {r.get('global_steps')} steps, {r.get('train_seconds')} s")
    console.print(f"model: {out}")
