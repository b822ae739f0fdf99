"""Devign-like defect-detection dataset from Debian source packages: real fixes plus injected bugs.

:func:`build_defect_dataset` writes a ``defect`` dataset (Devign / CodeXGLUE JSONL) from C code of
pinned Debian source packages (:data:`DEFAULT_SOURCES`: QEMU, FFmpeg and CVE-heavy C libraries).

Sources
    Each pinned ``package=version`` is downloaded once with ``apt-get source --download-only``
    into ``cache/downloads`` (the SHA-256 of every ``.dsc`` is recorded in ``stats.json``; the
    tarballs are checked against the ``.dsc``) and unpacked **unpatched** into ``cache/src``; later
    runs reuse both. Where apt knows no pinned version and has no ``deb-src`` entry, the builder
    writes ``/etc/apt/sources.list.d/codekd-deb-src.sources`` (the system's ``deb`` entries as
    ``deb-src``) and runs ``apt-get update`` (see :func:`~codekd.data.builders.debian.ensure_deb_src`).
    Without apt, put the ``.dsc`` files and tarballs in a folder and pass ``sources_dir``.

Real fixes (``source = "realfix"``)
    The package's ``debian/patches/series`` is applied in order (``patch -p1``, or the level the
    series names) to the files each patch touches; a patch that does not apply is skipped and
    counted. For every ``.c`` file a patch changes, the function definitions (tree-sitter-c) with
    the same name before and after are compared as token sequences without comments: a function
    whose tokens change gives a pair, before = 1 (defective), after = 0 (fixed). Comment- and
    whitespace-only changes give nothing. The patch name and the CVE ids found in its file name and
    header (``CVE-YYYY-N``) are kept. A text that ends up with both labels (a function changed by
    two patches: the middle version is both "after" and "before") is dropped, and counted.

Injected defects (``source = "mutant"``)
    Function definitions of the unpatched ``.c`` files, ``min_lines``..``max_lines`` lines long,
    that parse alone with no error and are not touched by a real fix, are ordered by a seeded hash
    and mutated one by one (:mod:`~codekd.data.builders.mutate`: one mutant per function, operator
    and site chosen with a generator seeded by ``seed`` and the function's place; the operators are
    balanced: the least used one so far that applies is taken) until the size cap is reached:
    original = 0, mutant = 1, the operator kept. Functions whose token sequence was
    already used (copies across files and packages) are skipped.

Splits
    Rows are grouped by source file (``project/path``): a function, its mutant and its fixed
    version are always in the same split. Groups go to ``train`` / ``valid`` / ``test`` as in the
    exception miner (largest first, each to the split furthest below its share), the files with
    real fixes first by their real-fix rows (so each split gets about its share of them), then the
    others by all rows. Files:
    ``train.jsonl``, ``valid.jsonl``, ``test.jsonl`` (read by the ``defect`` loader unchanged),
    ``test_realfix.jsonl`` and ``test_injected.jsonl`` (the real-fix and the mutant rows of
    ``test.jsonl``: report both, the real fixes are the honest measure) and ``stats.json``.
    With ``realfix="holdout"`` the real-fix pairs are kept out of train/valid/test altogether and
    all of them are written to ``test_realfix.jsonl`` (train on injected bugs, test on real ones).

Rows
    ``{"idx", "func", "target", "project", "package", "version", "file", "name", "line",
    "source", "operator", "patch", "cves", "pair"}``: the two rows of a pair share ``pair``.

Determinism
    Given the pinned versions, the options and ``seed``, two runs write byte-identical JSONL files;
    ``stats.json`` differs only in timings. Every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence

from ...errors import ConfigError, DataError
from ...io import atomic_write_json, atomic_write_text
from . import debian
from .csyntax import c_parser, functions_in, token_key
from .split import group_split
from .mutate import MUTATION_OPERATORS, mutate_function

__all__ = ["DEFAULT_SOURCES", "DEVIGN_SIZE", "DefectStats", "SourcePackage", "build_defect_dataset",
           "default_cache_dir", "realfix_pairs", "resolve_sources"]

DEVIGN_SIZE = 27_318  # functions in Devign / CodeXGLUE defect (train + valid + test)
SPLIT_NAMES: tuple[str, ...] = ("train", "valid", "test")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_MAX_FILE_BYTES = 2_000_000


@dataclass(frozen=True)
class SourcePackage:
    """A pinned Debian source package; ``project`` names it in the dataset (Devign's ``project``)."""

    package: str
    version: str
    project: str


# Debian 12 (bookworm) main, versions as on deb.debian.org when pinned. Debian drops superseded
# point releases from the mirror: update a pin when `apt-cache madison PKG` no longer lists it.
DEFAULT_SOURCES: tuple[SourcePackage, ...] = (
    SourcePackage("qemu", "1:7.2+dfsg-7+deb12u18", "qemu"),
    SourcePackage("ffmpeg", "7:5.1.9-0+deb12u1", "ffmpeg"),
    SourcePackage("imagemagick", "8:6.9.11.60+dfsg-1.6+deb12u11", "imagemagick"),
    SourcePackage("libxml2", "2.9.14+dfsg-1.3~deb12u6", "libxml2"),
    SourcePackage("curl", "7.88.1-10+deb12u15", "curl"),
    SourcePackage("libarchive", "3.6.2-1+deb12u4", "libarchive"),
    SourcePackage("tiff", "4.5.0-6+deb12u4", "libtiff"),
    SourcePackage("libvpx", "1.12.0-1+deb12u5", "libvpx"),
    SourcePackage("openjpeg2", "2.5.0-2+deb12u3", "openjpeg"),
    SourcePackage("libpng1.6", "1.6.39-2+deb12u5", "libpng"),
    SourcePackage("expat", "2.5.0-1+deb12u2", "expat"),
)

Log = Callable[[str], None]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codekd" / "debian"


def resolve_sources(specs: Sequence[str] | None) -> list[SourcePackage]:
    """``None`` -> the defaults; else names of default packages or ``PKG=VERSION`` pins."""
    if not specs:
        return list(DEFAULT_SOURCES)
    known = {s.package: s for s in DEFAULT_SOURCES} | {s.project: s for s in DEFAULT_SOURCES}
    out: list[SourcePackage] = []
    for spec in specs:
        if "=" in spec:
            pkg, ver = spec.split("=", 1)
            if not pkg or not ver:
                raise ConfigError(f"bad package pin {spec!r} (expected PKG=VERSION)")
            proj = known[pkg].project if pkg in known else pkg
            out.append(SourcePackage(pkg, ver, proj))
        elif spec in known:
            out.append(known[spec])
        else:
            raise ConfigError(f"unknown package {spec!r}: name one of {', '.join(s.package for s in DEFAULT_SOURCES)} "
                              "or pin another as PKG=VERSION")
    if len({s.package for s in out}) != len(out):
        raise ConfigError("a package is named twice")
    return out


# --------------------------------------------------------------------------------------------
# results


@dataclass
class DefectStats:
    """What :func:`build_defect_dataset` fetched, found and wrote (also written as ``stats.json``)."""

    out_dir: str
    options: dict[str, Any]
    packages: list[dict[str, Any]] = field(default_factory=list)
    realfix_pairs_found: int = 0
    realfix_label_conflicts_dropped: int = 0
    realfix_duplicates_dropped: int = 0
    realfix_pairs: int = 0
    mutant_pool: int = 0
    mutant_candidates_tried: int = 0
    mutant_rejected: dict[str, int] = field(default_factory=dict)
    mutant_pairs: int = 0
    examples: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    per_label: dict[str, int] = field(default_factory=dict)
    per_operator: dict[str, int] = field(default_factory=dict)
    per_project: dict[str, dict[str, int]] = field(default_factory=dict)
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    time_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Row:
    func: str
    target: int
    project: str
    package: str
    version: str
    file: str
    name: str
    line: int
    source: str
    pair: str
    operator: str | None = None
    patch: str | None = None
    cves: list[str] = field(default_factory=list)
    key: bytes = b""

    def json(self, idx: str) -> str:
        return json.dumps({"idx": idx, "func": self.func, "target": self.target, "project": self.project,
                           "package": self.package, "version": self.version, "file": self.file, "name": self.name,
                           "line": self.line, "source": self.source, "operator": self.operator, "patch": self.patch,
                           "cves": self.cves, "pair": self.pair}, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# real fixes


def _patch_paths(text: str, level: int) -> list[str]:
    """The files a unified diff touches (``---`` / ``+++`` names with ``level`` parts stripped)."""
    out: list[str] = []

    def add(name: str, strip: int) -> None:
        if name.startswith('"') or name == "/dev/null" or not name:
            return
        parts = [p for p in name.split("/") if p not in ("", ".")][strip:]
        if parts and ".." not in parts:
            out.append("/".join(parts))

    for line in text.splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            add(line[4:].split("\t", 1)[0].strip(), level)
        elif line.startswith("diff --git "):  # also names files with no ---/+++ (binary, mode, rename)
            for name in line.split()[2:4]:
                add(name, level)
        elif line.startswith("rename from ") or line.startswith("rename to "):
            add(line.split(" ", 2)[2].strip(), 0)
    return list(dict.fromkeys(out))


def _patch_header(text: str) -> str:
    m = re.search(r"^(---|diff |Index: )", text, re.MULTILINE)
    return text[: m.start()] if m else text


def patch_cves(name: str, text: str) -> list[str]:
    """CVE ids in a patch's file name and header (before the first diff), upper case, sorted."""
    found = {c.upper() for c in _CVE.findall(name)} | {c.upper() for c in _CVE.findall(_patch_header(text))}
    return sorted(found)


def changed_functions(before: bytes, after: bytes, parser=None) -> list[tuple[str, int, bytes, bytes, bytes, bytes]]:
    """Functions (same name, same occurrence) whose comment-free tokens differ between two versions
    of a C file: ``[(name, line before, text before, text after, key before, key after)]``."""
    parser = parser or c_parser()
    tb, ta = parser.parse(before), parser.parse(after)
    fb, fa = {}, {}
    for tree, out in ((tb, fb), (ta, fa)):
        for f in functions_in(tree):
            out.setdefault(f.name, []).append(f)
    result = []
    for name, olds in fb.items():
        news = fa.get(name)
        if not news or len(news) != len(olds):
            continue
        for o, n in zip(olds, news):
            ko, kn = token_key(o.node), token_key(n.node)
            if ko != kn:
                result.append((name, o.line, before[o.start:o.end], after[n.start:n.end], ko, kn))
    result.sort(key=lambda r: (r[1], r[0]))
    return result


def realfix_pairs(root: Path, *, min_lines: int = 3, max_lines: int | None = None,
                  progress: Callable[[int], None] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Before/after pairs of the functions each patch of ``root``'s ``debian/patches/series`` changes.

    ``root`` is an unpacked source tree with its patches **not** applied; it is left unchanged (each
    patch is applied to a scratch copy of the files it touches, on top of the earlier patches).
    Returns ``(pairs, counts)``: each pair ``{"file", "name", "line", "before", "after", "patch",
    "cves", "key_before", "key_after"}``; counts of patches applied / failed and pairs dropped.
    """
    if shutil.which("patch") is None:
        raise DataError("the 'patch' program is needed to apply debian/patches (apt-get install patch)")
    series = debian.read_series(root)
    counts: Counter = Counter(patches=len(series))
    overlay: dict[str, bytes | None] = {}  # path -> current content (None: deleted)
    parser = c_parser()
    pairs: list[dict[str, Any]] = []
    for i, (name, level) in enumerate(series):
        if progress and i:
            progress(i)  # the previous patch is done
        pfile = root / "debian" / "patches" / name
        try:
            ptext = pfile.read_bytes().decode("utf-8", "replace")
        except OSError:
            counts["patches_missing"] += 1
            continue
        paths = _patch_paths(ptext, level)
        with tempfile.TemporaryDirectory(prefix="codekd-patch-") as tmp:
            tdir = Path(tmp)
            before: dict[str, bytes | None] = {}
            for rel in paths:
                data = overlay[rel] if rel in overlay else (
                    (root / rel).read_bytes() if (root / rel).is_file() else None)
                before[rel] = data
                if data is not None:
                    (tdir / rel).parent.mkdir(parents=True, exist_ok=True)
                    (tdir / rel).write_bytes(data)
            r = subprocess.run(["patch", f"-p{level}", "--batch", "--forward", "--silent", "--no-backup-if-mismatch",
                                "-r", "-", "-d", str(tdir), "-i", str(pfile.resolve())],
                               capture_output=True, env=dict(os.environ, LC_ALL="C"), timeout=300)
            if r.returncode != 0:
                counts["patches_failed"] += 1
                continue
            counts["patches_applied"] += 1
            after = {rel: ((tdir / rel).read_bytes() if (tdir / rel).is_file() else None) for rel in paths}
        overlay.update(after)
        cves = patch_cves(name, ptext)
        n_pairs = 0
        for rel in paths:
            old, new = before.get(rel), after.get(rel)
            if not rel.endswith(".c") or old is None or new is None or old == new:
                continue
            if len(old) > _MAX_FILE_BYTES:
                continue
            for fname, line, tb, ta, kb, ka in changed_functions(old, new, parser):
                n_lines = max(tb.count(b"\n"), ta.count(b"\n")) + 1
                if n_lines < min_lines or (max_lines is not None and n_lines > max_lines):
                    counts["pairs_length_filtered"] += 1
                    continue
                pairs.append({"file": rel, "name": fname, "line": line, "before": tb.decode("utf-8", "replace"),
                              "after": ta.decode("utf-8", "replace"), "patch": name, "cves": cves,
                              "key_before": kb, "key_after": ka})
                n_pairs += 1
        if n_pairs == 0:
            counts["patches_without_pairs"] += 1
    if progress and series:
        progress(len(series))
    return pairs, dict(counts)


# --------------------------------------------------------------------------------------------
# mutant pool


def _c_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (dirpath == str(root) and d == "debian"))
        for f in filenames:
            if f.endswith(".c"):
                full = os.path.join(dirpath, f)
                if not os.path.islink(full):
                    out.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return sorted(out)


def _rank(seed: int, *parts: object) -> bytes:
    return hashlib.sha1("\x00".join(str(p) for p in (seed, *parts)).encode("utf-8", "surrogatepass")).digest()


# --------------------------------------------------------------------------------------------
# progress


class _Progress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def task(self, description: str, total: int) -> Callable[[int], None]:
        """A new bar; the returned function advances it by n."""
        if self._bar is None:
            return lambda n=1: None
        bar, job = self._bar, self._bar.add_task(description, total=total)
        return lambda n=1: bar.advance(job, n)

    def track(self, items: Iterable, total: int, description: str) -> Iterator:
        advance = self.task(description, total)
        for x in items:
            yield x
            advance(1)

    def log(self, msg: str) -> None:
        if self._bar is not None:
            self._bar.console.print(msg)


# --------------------------------------------------------------------------------------------
# the API


def _check(max_functions: int, min_lines: int, max_lines: int, split: Sequence[float], realfix: str,
           operators: Sequence[str]) -> tuple[float, ...]:
    if not isinstance(max_functions, int) or max_functions < 2:
        raise ConfigError(f"max_functions must be an integer >= 2, got {max_functions!r}")
    if min_lines < 1 or max_lines < min_lines:
        raise ConfigError(f"need 1 <= min_lines <= max_lines, got {min_lines}..{max_lines}")
    ratios = tuple(float(r) for r in split)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConfigError(f"split must be three non-negative shares for train/valid/test, got {tuple(split)!r}")
    if realfix not in ("split", "holdout"):
        raise ConfigError(f"realfix must be 'split' or 'holdout', got {realfix!r}")
    bad = [o for o in operators if o not in MUTATION_OPERATORS]
    if bad or not operators:
        raise ConfigError(f"unknown mutation operator(s) {bad or '(none given)'}: "
                          f"choose from {', '.join(MUTATION_OPERATORS)}")
    s = sum(ratios)
    return tuple(r / s for r in ratios)


def _obtain(pkgs: list[SourcePackage], cache: Path, sources_dir: Path | None, log: Log,
            apt_update: bool) -> list[debian.DscFile]:
    dscs: list[debian.DscFile] = []
    if sources_dir is not None:
        if not sources_dir.is_dir():
            raise DataError("sources folder does not exist", path=sources_dir)
        for s in pkgs:
            p = debian.find_dsc(sources_dir, s.package, s.version)
            if p is None:
                raise DataError(f"no {s.package}_{debian.upstream_file_version(s.version)}.dsc in the sources folder",
                                path=sources_dir)
            dscs.append(debian.parse_dsc(p))
        return dscs
    todo = [s for s in pkgs if debian.find_dsc(cache / "downloads" / f"{s.package}_{debian.upstream_file_version(s.version)}",
                                               s.package, s.version) is None]
    if todo:
        if not debian.apt_available():
            raise DataError("apt-get is not available to download the Debian source packages: put each pinned "
                            ".dsc with its tarballs in a folder and pass --sources-dir FOLDER "
                            f"(first needed: {todo[0].package}={todo[0].version})")
        debian.ensure_deb_src([(s.package, s.version) for s in todo], log=log, update=apt_update)
    for s in pkgs:
        dest = cache / "downloads" / f"{s.package}_{debian.upstream_file_version(s.version)}"
        if s in todo:
            log(f"downloading {s.package}={s.version} (apt-get source --download-only) into {dest}")
        dscs.append(debian.parse_dsc(debian.download_source(s.package, s.version, dest, log=log)))
    return dscs


def build_defect_dataset(
    out: str | Path,
    *,
    packages: Sequence[str] | Sequence[SourcePackage] | None = None,
    cache: str | Path | None = None,
    sources_dir: str | Path | None = None,
    seed: int = 0,
    max_functions: int = DEVIGN_SIZE,
    min_lines: int = 3,
    max_lines: int = 200,
    realfix_max_lines: int | None = 500,
    realfix: Literal["split", "holdout"] = "split",
    operators: Sequence[str] = MUTATION_OPERATORS,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    apt_update: bool = True,
    progress: bool = True,
    log: Log | None = None,
) -> DefectStats:
    """Build the defect dataset into ``out`` (see the module docs); returns the statistics.

    ``packages``: default package names or ``PKG=VERSION`` pins (default :data:`DEFAULT_SOURCES`).
    ``max_functions`` caps the rows of train/valid/test together (Devign's 27,318 by default):
    real-fix pairs first, then mutant pairs fill the rest. ``min_lines`` / ``max_lines`` bound the
    functions that are mutated, ``realfix_max_lines`` the real-fix pairs (``None``: no bound).

    Raises :class:`~codekd.errors.DataError` when the sources cannot be obtained (no apt, a pin the
    mirror no longer has, a corrupt download) or no example is found;
    :class:`~codekd.errors.ConfigError` for bad options.
    """
    t0 = time.perf_counter()
    ratios = _check(max_functions, min_lines, max_lines, split, realfix, operators)
    pkgs = [p if isinstance(p, SourcePackage) else None for p in (packages or ())]
    pkgs = list(packages) if packages and all(pkgs) else resolve_sources(packages)  # type: ignore[arg-type]
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError("output path exists and is not a directory", path=out_dir)
    cache_dir = Path(cache) if cache is not None else default_cache_dir()
    src_dir = Path(sources_dir) if sources_dir is not None else None
    stats = DefectStats(out_dir=str(out_dir), options={
        "seed": seed, "max_functions": max_functions, "min_lines": min_lines, "max_lines": max_lines,
        "realfix_max_lines": realfix_max_lines, "realfix": realfix, "operators": list(operators),
        "split": list(ratios), "cache": str(cache_dir), "sources_dir": str(src_dir) if src_dir else None})

    with _Progress(progress) as bar:
        say = log or bar.log
        dscs = _obtain(pkgs, cache_dir, src_dir, say, apt_update)
        stats.time_seconds["download"] = round(time.perf_counter() - t0, 2)
        roots: list[Path] = []
        for s, dsc in zip(pkgs, dscs):
            if dsc.source != s.package or dsc.version != s.version:
                raise DataError(f"the .dsc is {dsc.source}={dsc.version}, expected {s.package}={s.version}",
                                path=dsc.path)
            roots.append(debian.unpack_source(dsc, cache_dir / "src" / f"{s.package}_{debian.upstream_file_version(s.version)}",
                                              log=say))
        stats.time_seconds["unpack"] = round(time.perf_counter() - t0 - sum(stats.time_seconds.values()), 2)

        # real fixes ---------------------------------------------------------------------------
        t1 = time.perf_counter()
        rows: list[_Row] = []
        touched: set[tuple[str, str, str]] = set()
        pkg_info: list[dict[str, Any]] = []
        for s, dsc, root in zip(pkgs, dscs, roots):
            advance = bar.task(f"patches {s.package}", len(debian.read_series(root)))
            pairs, counts = realfix_pairs(root, min_lines=min_lines, max_lines=realfix_max_lines,
                                          progress=lambda _i: advance(1))
            pkg_info.append({"package": s.package, "version": s.version, "project": s.project,
                             "dsc": dsc.path.name, "dsc_sha256": dsc.sha256, **counts, "pairs": len(pairs)})
            for k, p in enumerate(pairs):
                pid = hashlib.sha1(f"{s.package}\x00{p['file']}\x00{p['name']}\x00{p['patch']}\x00{k}".encode()).hexdigest()[:16]
                touched.add((s.project, p["file"], p["name"]))
                common = dict(project=s.project, package=s.package, version=s.version, file=p["file"], name=p["name"],
                              line=p["line"], source="realfix", pair=pid, patch=p["patch"], cves=p["cves"])
                rows.append(_Row(func=p["before"], target=1, key=p["key_before"], **common))
                rows.append(_Row(func=p["after"], target=0, key=p["key_after"], **common))
        stats.realfix_pairs_found = len(rows) // 2
        # a text with both labels (a function fixed twice) is dropped; exact repeats keep the first
        labels_of: dict[bytes, set[int]] = {}
        for r in rows:
            labels_of.setdefault(r.key, set()).add(r.target)
        conflicts = {k for k, v in labels_of.items() if len(v) > 1}
        kept: list[_Row] = []
        seen: set[bytes] = set()
        for r in rows:
            if r.key in conflicts:
                stats.realfix_label_conflicts_dropped += 1
                continue
            if r.key in seen:
                stats.realfix_duplicates_dropped += 1
                continue
            seen.add(r.key)
            kept.append(r)
        by_pair = Counter(r.pair for r in kept)
        realfix_rows = [r for r in kept if by_pair[r.pair] == 2]  # only whole pairs
        stats.realfix_pairs = len(realfix_rows) // 2
        seen = {r.key for r in realfix_rows} | conflicts
        stats.time_seconds["realfix"] = round(time.perf_counter() - t1, 2)

        # mutants ------------------------------------------------------------------------------
        t2 = time.perf_counter()
        in_splits = realfix_rows if realfix == "split" else []
        if len(in_splits) > max_functions:
            stats.warnings.append(f"{len(in_splits)} real-fix rows exceed max_functions={max_functions}; "
                                  "the mutant pairs are left out and the real fixes kept whole")
        want = max(0, (max_functions - len(in_splits)) // 2)
        pool: list[tuple[bytes, int, str, int, int, int, str]] = []
        for pi, (s, root) in enumerate(zip(pkgs, roots)):
            files = _c_files(root)
            parser = c_parser()
            for rel in bar.track(files, len(files), f"functions {s.package}"):
                p = root / rel
                try:
                    if p.stat().st_size > _MAX_FILE_BYTES:
                        continue
                    data = p.read_bytes()
                except OSError:
                    continue
                occ: Counter = Counter()
                for f in functions_in(parser.parse(data)):
                    occ[f.name] += 1
                    if min_lines <= f.lines <= max_lines and (s.project, rel, f.name) not in touched:
                        pool.append((_rank(seed, s.package, rel, f.name, occ[f.name]), pi, rel, f.line, f.start,
                                     f.end, f.name))
        pool.sort()
        stats.mutant_pool = len(pool)
        rejected: Counter = Counter()
        op_count: Counter = Counter({o: 0 for o in operators})
        mutants: list[_Row] = []
        parser = c_parser()
        file_cache: dict[tuple[int, str], bytes] = {}
        advance = bar.task("injecting bugs", want)
        for rank, pi, rel, line, start, end, name in pool:
            if len(mutants) >= 2 * want:
                break
            stats.mutant_candidates_tried += 1
            s, root = pkgs[pi], roots[pi]
            fk = (pi, rel)
            if fk not in file_cache:
                if len(file_cache) > 64:
                    file_cache.clear()
                file_cache[fk] = (root / rel).read_bytes()
            raw = file_cache[fk][start:end]
            try:
                code = raw.decode("utf-8")
            except UnicodeDecodeError:
                rejected["not_utf8"] += 1
                continue
            tree = parser.parse(raw)
            if tree.root_node.has_error:
                rejected["does_not_parse_alone"] += 1
                continue
            key = token_key(tree.root_node)
            if key in seen:
                rejected["duplicate"] += 1
                continue
            rng = random.Random(rank.hex())
            # operators balanced: the least used so far first (ties in a random order)
            order = sorted(operators, key=lambda o: (op_count[o], rng.random()))
            m = mutate_function(code, rng, operators=order, parser=parser, shuffle=False)
            if m is None:
                rejected["no_operator_applies"] += 1
                continue
            mkey = token_key(parser.parse(m.code.encode("utf-8")).root_node)
            if mkey in seen:
                rejected["mutant_duplicate"] += 1
                continue
            seen.update((key, mkey))
            op_count[m.operator] += 1
            pid = rank.hex()[:16]
            common = dict(project=s.project, package=s.package, version=s.version, file=rel, name=name, line=line,
                          source="mutant", pair=pid, operator=m.operator)
            mutants.append(_Row(func=code, target=0, key=key, **common))
            mutants.append(_Row(func=m.code, target=1, key=mkey, **common))
            advance(1)
        stats.mutant_rejected = dict(sorted(rejected.items()))
        stats.mutant_pairs = len(mutants) // 2
        if stats.mutant_pairs < want:
            stats.warnings.append(f"only {stats.mutant_pairs} mutant pairs (asked for {want}): the pool ran out")
        stats.time_seconds["mutants"] = round(time.perf_counter() - t2, 2)

    # split and write ------------------------------------------------------------------------------
    examples = in_splits + mutants
    if not examples:
        raise DataError("no defect examples found (no real-fix pair and no mutant)")
    assign = _stratified_split(examples, ratios, seed)
    by_split: list[list[_Row]] = [[] for _ in SPLIT_NAMES]
    for r in examples:
        by_split[assign[f"{r.project}/{r.file}"]].append(r)

    def order(r: _Row) -> tuple:
        return (r.project, r.file, r.line, r.name, r.source, r.pair, -r.target)

    def write(name: str, rs: list[_Row]) -> None:
        atomic_write_text(out_dir / f"{name}.jsonl",
                          "".join(r.json(f"{r.pair}-{r.target}") + "\n" for r in sorted(rs, key=order)))

    out_dir.mkdir(parents=True, exist_ok=True)
    for si, name in enumerate(SPLIT_NAMES):
        rs = by_split[si]
        write(name, rs)
        stats.splits[name] = {"examples": len(rs), "files": len({f"{r.project}/{r.file}" for r in rs}),
                              "per_label": _label_counts(rs), "per_source": dict(sorted(Counter(r.source for r in rs).items()))}
        if not rs and ratios[si] > 0:
            stats.warnings.append(f"the {name} split is empty")
    test_realfix = [r for r in by_split[2] if r.source == "realfix"] if realfix == "split" else realfix_rows
    test_injected = [r for r in by_split[2] if r.source == "mutant"]
    write("test_realfix", test_realfix)
    write("test_injected", test_injected)
    stats.splits["test_realfix"] = {"examples": len(test_realfix), "per_label": _label_counts(test_realfix),
                                    "cve_pairs": sum(1 for r in test_realfix if r.cves and r.target == 1)}
    stats.splits["test_injected"] = {"examples": len(test_injected), "per_label": _label_counts(test_injected)}

    all_rows = examples + ([] if realfix == "split" else realfix_rows)
    stats.examples = len(examples)
    stats.per_source = dict(sorted(Counter(r.source for r in all_rows).items()))
    stats.per_label = _label_counts(examples)
    stats.per_operator = dict(sorted(Counter(r.operator for r in mutants if r.target == 1).items()))
    for r in all_rows:
        d = stats.per_project.setdefault(r.project, {"realfix": 0, "mutant": 0})
        d[r.source] += 1
    for info in pkg_info:
        proj_rows = [r for r in realfix_rows if r.package == info["package"]]
        info["realfix_pairs_kept"] = len(proj_rows) // 2
        info["realfix_pairs_with_cve"] = sum(1 for r in proj_rows if r.cves and r.target == 1)
        info["mutant_pairs"] = sum(1 for r in mutants if r.package == info["package"] and r.target == 1)
    stats.packages = pkg_info
    stats.time_seconds["total"] = round(time.perf_counter() - t0, 2)
    atomic_write_json(out_dir / "stats.json", stats.to_dict())
    return stats


def _stratified_split(rows: list[_Row], ratios: tuple[float, ...], seed: int) -> dict[str, int]:
    """File group -> split: the files with real fixes first (so each split gets its share of the
    real-fix pairs), then the others, each group to the split furthest below its share of all rows."""
    total = Counter(f"{r.project}/{r.file}" for r in rows)
    fixes = Counter(f"{r.project}/{r.file}" for r in rows if r.source == "realfix")
    assign = group_split(dict(fixes), ratios, seed) if fixes else {}
    counts = [0.0] * len(ratios)
    for g, si in assign.items():
        counts[si] += total[g]
    rest = {g: n for g, n in total.items() if g not in assign}
    targets = [r * sum(total.values()) for r in ratios]

    def key(g: str) -> tuple:
        return (-rest[g].bit_length(), hashlib.sha1(f"{seed}\x00{g}".encode("utf-8")).hexdigest(), g)

    for g in sorted(rest, key=key):
        i = max(range(len(ratios)), key=lambda k: (targets[k] - counts[k], -k))
        assign[g] = i
        counts[i] += rest[g]
    return assign


def _label_counts(rows: Iterable[_Row]) -> dict[str, int]:
    c = Counter(r.target for r in rows)
    return {"0": c.get(0, 0), "1": c.get(1, 0)}
