"""Where the exception miner finds Python files: source roots, their ``.py`` files and projects.

With no path: the running interpreter's standard library (``sysconfig`` ``stdlib``, without its
``site-packages`` / ``dist-packages``) and its site-packages (``site.getsitepackages()``, the
``purelib`` / ``platlib`` paths, and the user site when enabled). Directories named ``test``,
``tests`` or ``idle_test`` are skipped unless asked for, as are hidden directories,
``__pycache__`` and symbolic links (never followed).

Projects: for the standard library and site-packages each top-level module or package
(``email``, ``json.py`` -> ``json``, ``numpy``); for a PATH, the PATH itself if it is one project
(a file, or a directory with ``__init__.py``, ``pyproject.toml``, ``setup.py`` or ``setup.cfg``),
else each of its top-level entries; a named source (``(name, path)``) is one project called name.
"""

from __future__ import annotations

import os
import site
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...errors import ConfigError, DataError

__all__ = ["TEST_DIR_NAMES", "Root", "default_sources", "make_roots", "project_of", "walk", "written_path"]

TEST_DIR_NAMES = frozenset({"test", "tests", "idle_test"})
_STDLIB_SKIP = frozenset({"site-packages", "dist-packages"})
_PROJECT_MARKERS = ("__init__.py", "pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True)
class Root:
    """One source root."""

    label: str  # prefix of the written ``path``
    path: Path
    kind: str  # "stdlib" | "site-packages" | "path" | "project"
    single_project: str | None  # the project name when the whole root is one project


def default_sources() -> list[tuple[str, Path]]:
    """``[(kind, path)]``: the running interpreter's stdlib and site-packages directories."""
    out: list[tuple[str, Path]] = []
    seen: set[str] = set()

    def add(kind: str, p: str | None) -> None:
        if not p:
            return
        path = Path(p)
        if not path.is_dir():
            return
        real = os.path.realpath(path)
        if real in seen:
            return
        seen.add(real)
        out.append((kind, path))

    paths = sysconfig.get_paths()
    add("stdlib", paths.get("stdlib"))
    sps: list[str] = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    sps += [paths.get("purelib") or "", paths.get("platlib") or ""]
    if site.ENABLE_USER_SITE:
        sps.append(site.getusersitepackages())
    for p in sps:
        add("site-packages", p)
    return out


def make_roots(paths: Sequence[str | Path] | None,
               named: Sequence[tuple[str, str | Path]] = (), stdlib: bool = False) -> list[Root]:
    """The roots of ``paths`` (none: :func:`default_sources`), or of the ``named`` projects (after
    the standard library with ``stdlib``, before the plain ``paths``)."""
    if named or stdlib:
        return _named_roots(paths, named, stdlib)
    if not paths:
        specs = default_sources()
        if not specs:
            raise DataError("found no standard library or site-packages directory for this Python")
    else:
        specs = []
        for p in paths:
            path = Path(p)
            if not path.exists():
                raise DataError("input path does not exist", path=path)
            if not (path.is_dir() or path.is_file()):
                raise DataError("input path is neither a file nor a directory", path=path)
            specs.append(("path", path))
    roots: list[Root] = []
    used: Counter = Counter()
    seen: set[str] = set()
    for kind, path in specs:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if kind == "path":
            base = Path(real).name or "root"
            if path.is_file():
                base = Path(real).stem
                single: str | None = base
            else:
                single = base if any((path / m).exists() for m in _PROJECT_MARKERS) else None
        else:
            base, single = kind, None
        used[base] += 1
        label = base if used[base] == 1 else f"{base}-{used[base]}"
        roots.append(Root(label=label, path=path, kind=kind, single_project=single))
    return roots


def _named_roots(paths: Sequence[str | Path] | None, named: Sequence[tuple[str, str | Path]],
                 stdlib: bool) -> list[Root]:
    """Roots for ``projects=[(name, path)]`` (each path one project, named), optionally after the
    running interpreter's standard library and before any plain ``paths``."""
    roots: list[Root] = []
    if stdlib:
        std = sysconfig.get_paths().get("stdlib")
        if not std or not Path(std).is_dir():
            raise DataError("found no standard library directory for this Python")
        roots.append(Root(label="stdlib", path=Path(std), kind="stdlib", single_project=None))
    seen: set[str] = set()
    for name, p in named:
        path = Path(p)
        if not path.exists():
            raise DataError("input path does not exist", path=path)
        if name in seen:
            raise ConfigError(f"project name {name!r} given twice")
        seen.add(name)
        roots.append(Root(label=name, path=path, kind="project", single_project=name))
    if paths:
        roots.extend(r for r in make_roots(paths) if r.label not in seen)
    return roots


def walk(root: Root, include_tests: bool) -> list[tuple[str, str]]:
    """``[(relative posix path, absolute path)]`` of the ``.py`` files of a root, sorted."""
    if root.path.is_file():
        return [(root.path.name, str(root.path))] if not root.path.is_symlink() else []
    out: list[tuple[str, str]] = []
    base = str(root.path)
    for dirpath, dirnames, filenames in os.walk(base):
        keep = []
        for d in dirnames:
            if d.startswith(".") or d == "__pycache__":
                continue
            if not include_tests and d in TEST_DIR_NAMES:
                continue
            if root.kind == "stdlib" and d in _STDLIB_SKIP:
                continue
            keep.append(d)
        dirnames[:] = sorted(keep)
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            full = os.path.join(dirpath, f)
            if os.path.islink(full):
                continue
            out.append((os.path.relpath(full, base).replace(os.sep, "/"), full))
    out.sort()
    return out


def project_of(root: Root, rel: str) -> str:
    """The project of the file ``rel`` (relative to ``root``)."""
    if root.single_project is not None:
        return root.single_project
    head = rel.split("/", 1)[0]
    return head[:-3] if head.endswith(".py") and "/" not in rel else head


def written_path(root: Root, rel: str) -> str:
    """The ``path`` written for the file ``rel``: prefixed with the root's label (unless a file root)."""
    return rel if root.path.is_file() else f"{root.label}/{rel}"
