"""`codekd data ...`: validate datasets and build real-code datasets."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from .common import console, print_json

app = typer.Typer(no_args_is_help=True)


@app.command("check")
def check(
    path: Path = typer.Argument(..., help="Dataset folder (train/valid/test files)."),
    task: str = typer.Option(..., "--task", "-t", help="Task name: defect, clone, exception or a registered one."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip bad lines and report them instead of stopping."),
    fraction: Optional[float] = typer.Option(None, help="Seeded subsample of train and valid (e.g. 0.1)."),
    seed: int = typer.Option(0, help="Seed for --fraction."),
    normalization: str = typer.Option("whitespace", help="whitespace | structure | none, optionally :hole=N or :try=N (for the lengths)."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Validate a dataset (every line) and print counts per split and label, and length percentiles."""
    from ..data.check import check_dataset

    stats = check_dataset(path, task, skip_bad=skip_bad, fraction=fraction, seed=seed, normalization=normalization)
    if as_json:
        print_json(stats)
        return
    console.print(f"[bold]{stats['task']}[/] dataset at {stats['root']} (format {stats['format']}, "
                  f"{stats['num_labels']} labels{', %d functions' % stats['functions'] if 'functions' in stats else ''})")
    t = Table("split", "examples", "label counts", "ws-tokens p50/p90/p99/max", "chars p50/max", "> 512 tok")
    for name, s in stats["splits"].items():
        pl = s["per_label"]
        counts = ", ".join(f"{k}:{v}" for k, v in pl.items()) if len(pl) <= 4 else \
            f"{len(pl)} labels, min {min(pl.values())} max {max(pl.values())}"
        w, c = s["whitespace_tokens"], s["chars"]
        t.add_row(name, str(s["examples"]), counts, f"{w['p50']}/{w['p90']}/{w['p99']}/{w['max']}",
                  f"{c['p50']}/{c['max']}", f"{100 * s['over_512_whitespace_tokens']:.1f}%")
    console.print(t)
    names = list(stats["splits"])
    pl = Table("label", *names, title="examples per label and split")
    for lab in stats["labels"]:
        pl.add_row(lab, *(str(stats["splits"][n]["per_label"].get(lab, 0)) for n in names))
    console.print(pl)
    for w in stats.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")
    if stats["bad_lines"]:
        console.print(f"[yellow]skipped {len(stats['bad_lines'])} bad lines:[/]")
        for b in stats["bad_lines"][:50]:
            console.print(f"  {b}")
        if len(stats["bad_lines"]) > 50:
            console.print(f"  ... and {len(stats['bad_lines']) - 50} more")


LABELS_HELP = ("frequent (the --num-labels most frequent), top-K (the K most frequent, e.g. top-20), cubert "
               "(CuBERT's own 20) or FILE (a JSON list such as a dataset's labels.json, or one name a line).")
GROUP_BY_HELP = ("How the folder maps to groups for the split (no group in two splits): top-dir (each top-level "
                 "folder or module of a PATH is a group; a PATH with pyproject.toml, setup.py, setup.cfg or "
                 "__init__.py is one group), file (each .py file), none (each function: a random split, "
                 "optimistic).")
EMPTY_HELP = ("A label without training examples after the split: drop (remove it and its valid/test examples, "
              "say which and how many), keep, or error.")


def _print_mined(out: Path, s: dict) -> None:
    t = Table("label", "examples", *s.get("splits", {}).keys())
    for name, n in s.get("per_label", {}).items():
        t.add_row(name, str(n), *(str(v.get("per_label", {}).get(name, 0)) for v in s.get("splits", {}).values()))
    console.print(t)
    parts = ", ".join(f"{k} {v.get('examples')} examples / {v.get('groups', v.get('projects'))} groups"
                      for k, v in s.get("splits", {}).items())
    console.print(f"wrote {out}: {s.get('examples')} examples, {len(s.get('per_label', {}))} labels ({parts}), grouped by "
                  f"{s.get('options', {}).get('group_by', 'top-dir')}, in {s.get('time_seconds')} s")
    for w in s.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")


@app.command("mine-exceptions")
def mine_exceptions_cmd(
    paths: Optional[List[Path]] = typer.Argument(None, help="Python source trees (default: this interpreter's stdlib and site-packages)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for train/valid/test JSONL, labels.json, stats.json."),
    num_labels: int = typer.Option(20, help="With --labels frequent: keep the N most frequent exception types."),
    labels: str = typer.Option("frequent", help=LABELS_HELP),
    max_label_share: float = typer.Option(0.5, help="frequent/top-K: most of a label's examples one group may hold "
                                          "(1: no limit); a library's own exception type is not a label."),
    group_by: str = typer.Option("top-dir", "--group-by", help=GROUP_BY_HELP),
    empty_labels: str = typer.Option("drop", "--empty-labels", help=EMPTY_HELP),
    lowercase_labels: bool = typer.Option(False, "--lowercase-labels", help="frequent/top-K: also allow names that do "
                                          "not start with a capital letter ('except exceptions:' catches a variable)."),
    exclude: List[str] = typer.Option([], "--exclude", help="Exception names never used as labels, e.g. --exclude Exception (repeatable)."),
    include_tests: bool = typer.Option(False, help="Also mine test/tests folders."),
    seed: int = typer.Option(0, help="Seed of the deterministic group split."),
    workers: Optional[int] = typer.Option(None, help="Parallel parser processes (default: CPU count)."),
) -> None:
    """Mine CuBERT-style exception-classification examples from real Python code with `ast`.

    Each function whose except clauses catch one name becomes an example with the name masked
    as __HOLE__; duplicates are removed, then the examples are split 80/10/10 by group
    (--group-by). Run `codekd data check OUT --task exception` afterwards: it warns on labels
    missing from a split, small splits and labels with few training examples."""
    from ..data.builders.exceptions import mine_exceptions, parse_label_spec

    label_set, n, given = parse_label_spec(labels, num_labels)
    stats = mine_exceptions(paths or None, out, num_labels=n, label_set=label_set, labels=given, seed=seed,  # type: ignore[arg-type]
                            exclude_labels=tuple(exclude), include_tests=include_tests, workers=workers,
                            max_label_share=max_label_share, group_by=group_by, empty_labels=empty_labels,
                            lowercase_labels=lowercase_labels)
    _print_mined(out, stats.to_dict())


@app.command("baseline")
def baseline_cmd(
    path: Path = typer.Argument(..., help="Dataset folder."),
    task: str = typer.Option(..., "--task", "-t", help="Task name."),
    normalization: str = typer.Option("whitespace", help="whitespace | structure | none, optionally :hole=N or :try=N (e.g. structure:try=4)."),
    fraction: Optional[float] = typer.Option(None, help="Seeded subsample of train and valid."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """TF-IDF + logistic regression on the same splits: the bar a teacher has to clear."""
    from ..evaluation.baseline import tfidf_baseline

    res = tfidf_baseline(path, task, normalization=normalization, fraction=fraction)
    if as_json:
        print_json(res)
        return
    t = Table("split", "accuracy", "precision", "recall", "F1", "top-3")
    for split in ("valid", "test"):
        m = res[split]
        t.add_row(split, *(f"{100 * m[k]:.2f}" if k in m else "-" for k in ("accuracy", "precision", "recall", "f1", "top3")))
    console.print(t)
    console.print(f"TF-IDF ({res['features']} uni/bi-gram features) + logistic regression (C={res['C']}), "
                  f"{res['seconds']} s")


@app.command("build-defect")
def build_defect_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for train/valid/test JSONL, test_realfix.jsonl, test_injected.jsonl, stats.json."),
    package: List[str] = typer.Option([], "--package", "-p", help="A default package name (qemu, ffmpeg, curl, ...) or a pin PKG=VERSION (repeatable; default: the pinned set)."),
    cache: Optional[Path] = typer.Option(None, help="Download/unpack cache, reused by later runs (default ~/.cache/codekd/debian)."),
    sources_dir: Optional[Path] = typer.Option(None, "--sources-dir", help="Folder with the pinned .dsc files and their tarballs, fetched by hand (no apt needed)."),
    max_functions: int = typer.Option(27318, help="Rows in train/valid/test together (Devign has 27,318)."),
    min_lines: int = typer.Option(3, help="Shortest function to mutate, in lines."),
    max_lines: int = typer.Option(200, help="Longest function to mutate, in lines."),
    realfix: str = typer.Option("split", help="split: real-fix pairs go into train/valid/test by file; holdout: only into test_realfix.jsonl."),
    seed: int = typer.Option(0, help="Seed of function choice, mutation and split."),
    no_apt_update: bool = typer.Option(False, "--no-apt-update", help="Never run apt-get update."),
) -> None:
    """Devign-like C defect dataset: real fixes from Debian security patches plus injected bugs.

    Downloads the pinned Debian source packages with `apt-get source --download-only`. If apt has
    no deb-src entry, writes /etc/apt/sources.list.d/codekd-deb-src.sources (the system's deb
    entries as deb-src) and runs `apt-get update`; nothing else on the system is changed.
    """
    from ..data.builders.defect import build_defect_dataset

    stats = build_defect_dataset(out, packages=package or None, cache=cache, sources_dir=sources_dir, seed=seed,
                                 max_functions=max_functions, min_lines=min_lines, max_lines=max_lines,
                                 realfix=realfix, apt_update=not no_apt_update,
                                 log=lambda m: console.print(m, markup=False, highlight=False))
    s = stats.to_dict()
    t = Table("package", "patches applied/failed", "real-fix pairs (CVE)", "mutant pairs")
    for p in s["packages"]:
        t.add_row(f"{p['package']} {p['version']}", f"{p.get('patches_applied', 0)}/{p.get('patches_failed', 0)}",
                  f"{p['realfix_pairs_kept']} ({p['realfix_pairs_with_cve']})", str(p["mutant_pairs"]))
    console.print(t)
    console.print("operators: " + ", ".join(f"{k} {v}" for k, v in s["per_operator"].items()))
    parts = ", ".join(f"{k} {v['examples']}" for k, v in s["splits"].items())
    console.print(f"wrote {out}: {s['examples']} examples ({parts}) in {s['time_seconds'].get('total')} s")
    for w in s["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")


@app.command("build-exceptions")
def build_exceptions_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (train/valid/test JSONL, labels.json, stats.json)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Download cache (default ~/.cache/codekd; wheels in pypi/)."),
    num_labels: int = typer.Option(20, help="Number of exception types kept."),
    labels: str = typer.Option("frequent", help=LABELS_HELP),
    empty_labels: str = typer.Option("drop", "--empty-labels", help=EMPTY_HELP),
    include_catch_all: bool = typer.Option(False, help="Also allow Exception / BaseException as labels (excluded by default, as in CuBERT)."),
    no_stdlib: bool = typer.Option(False, "--no-stdlib", help="Leave out this Python's standard library."),
    no_tests: bool = typer.Option(False, "--no-tests", help="Skip test/tests folders (mined by default)."),
    max_label_share: float = typer.Option(0.5, help="Most of a frequent label's examples one project may hold."),
    seed: int = typer.Option(0, help="Seed of the deterministic group split."),
    workers: Optional[int] = typer.Option(None, help="Parallel parser processes (default: CPU count)."),
) -> None:
    """Exception-classification data from ~390 pinned PyPI projects (pip download, cached) + the stdlib."""
    from ..data.builders.pinned_exceptions import CATCH_ALL, build_exceptions
    from ..data.builders.exceptions import parse_label_spec

    label_set, n, given = parse_label_spec(labels, num_labels)
    stats = build_exceptions(out, cache=cache, num_labels=n, label_set=label_set, labels=given, empty_labels=empty_labels,
                             exclude_labels=() if include_catch_all else CATCH_ALL, include_stdlib=not no_stdlib,
                             include_tests=not no_tests, max_label_share=max_label_share, seed=seed,
                             workers=workers)
    s = stats.to_dict()
    t = Table("label", "examples")
    for name, n in s.get("per_label", {}).items():
        t.add_row(name, str(n))
    console.print(t)
    parts = ", ".join(f"{k} {v.get('examples')} / {v.get('projects')} projects" for k, v in s.get("splits", {}).items())
    console.print(f"wrote {out}: {s.get('examples')} examples, {len(s.get('per_label', {}))} labels ({parts}), "
                  f"{s.get('python')}, in {stats.time_seconds} s")
    for w in s.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")


@app.command("build-clones")
def build_clones_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (data.jsonl, train/valid/test.txt, pairs.jsonl, stats.json)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Download cache (default ~/.cache/codekd)."),
    languages: str = typer.Option("java,python", help="Comma-separated: java, python."),
    seed: int = typer.Option(0, help="Seed of the split, the negatives and the transformations."),
    min_similarity: float = typer.Option(0.4, help="Least token Jaccard of a cross-version pair."),
    max_similarity: float = typer.Option(1.0, help="Most token Jaccard of a cross-version pair (< 1: drop the least-changed, harder)."),
    transform_ratio: float = typer.Option(1.0, help="Transformation positives per cross-version positive (train/valid)."),
    max_pairs_per_project: int = typer.Option(2000, help="Cap on one project's cross-version positives (0: none)."),
) -> None:
    """Clone pairs (BigCloneBench format) from pinned Java and Python projects in two versions."""
    from ..data.builders.clones import build_clones

    langs = [x.strip() for x in languages.split(",") if x.strip()]
    s = build_clones(out, cache=cache, languages=langs, seed=seed, min_similarity=min_similarity,
                     max_similarity=max_similarity,
                     transform_ratio=transform_ratio, max_pairs_per_project=max_pairs_per_project or None)
    t = Table("split", "pairs", "labels 0/1", "languages", "kinds", "projects")
    for name, sp in s["splits"].items():
        t.add_row(name, str(sp["pairs"]), f"{sp['per_label'].get('0', 0)}/{sp['per_label'].get('1', 0)}",
                  ", ".join(f"{k}:{v}" for k, v in sp["per_language"].items()),
                  ", ".join(f"{k}:{v}" for k, v in sp["per_kind"].items()), str(len(sp["projects"])))
    console.print(t)
    console.print(f"wrote {out}: {s['pairs']} pairs over {s['functions']} functions in {s['time_seconds']} s")
