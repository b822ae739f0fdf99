"""``codekd data build-exceptions``: the exception miner over pinned PyPI projects + the stdlib.

The projects and their exact versions are :data:`~codekd.data.builders.pins.EXCEPTION_PROJECTS`.
Each is fetched as a wheel with pip (cached, see :mod:`~codekd.data.builders.fetch`), its ``.py``
files unpacked, and the whole set mined by :func:`~codekd.data.builders.exceptions.mine_exceptions`
together with the running interpreter's standard library, with generated code excluded and one
project per PyPI distribution (the stdlib: one per top-level module) for the group split. The
stdlib differs between Python versions; ``stats.json`` records the version (``python``) and every
downloaded file with its SHA-256 (``pinned``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

from ...errors import ConfigError
from ...io import atomic_write_json
from .exceptions import MineStats, mine_exceptions
from .fetch import default_cache, fetch_all
from .pins import EXCEPTION_PROJECTS

__all__ = ["build_exceptions", "CATCH_ALL"]

CATCH_ALL: tuple[str, ...] = ("Exception", "BaseException")


def build_exceptions(
    out: str | Path,
    *,
    cache: str | Path | None = None,
    projects: Sequence[tuple[str, str]] = EXCEPTION_PROJECTS,
    include_stdlib: bool = True,
    num_labels: int = 20,
    label_set: str = "frequent",
    exclude_labels: Sequence[str] = CATCH_ALL,
    seed: int = 0,
    include_tests: bool = True,
    max_label_share: float = 0.5,
    workers: int | None = None,
    progress: bool = True,
    labels: Sequence[str] | None = None,
    empty_labels: str = "keep",
) -> MineStats:
    """Fetch the pinned projects and mine them (with the stdlib) into ``out``; returns the stats.

    ``exclude_labels`` defaults to the catch-alls ``Exception`` / ``BaseException``, which CuBERT's
    label list leaves out (on real code ``Exception`` alone would be about a third of the data).
    Test folders are mined too by default (CuBERT's corpus, ETH Py150, is whole repositories; here
    they add about a fifth). With the frequent label set no project may hold more than
    ``max_label_share`` of a label's examples, so a library's own exception type (ansible's
    ``ResourceNotFoundError``: 96% in ansible) cannot become a label that one split has alone.
    """
    if not projects and not include_stdlib:
        raise ConfigError("nothing to mine: no project and no standard library")
    names = [n for n, _ in projects]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"project listed twice: {', '.join(dup)}")
    t0 = time.perf_counter()
    cache = Path(cache) if cache is not None else default_cache()
    specs = sorted((("pypi", n, v) for n, v in projects), key=lambda s: s[1].lower())
    fetched = fetch_all(specs, cache, progress=progress, what="fetching PyPI projects")
    t_fetch = time.perf_counter() - t0
    stats = mine_exceptions(None, out, projects=[(f.name, f.root) for f in fetched], include_stdlib=include_stdlib,
                            exclude_generated=True, include_tests=include_tests,
                            max_label_share=max_label_share, num_labels=num_labels, label_set=label_set,  # type: ignore[arg-type]
                            exclude_labels=tuple(exclude_labels), seed=seed, workers=workers, progress=progress,
                            labels=labels, empty_labels=empty_labels)
    d = stats.to_dict()
    d["builder"] = "build-exceptions"
    d["cache"] = str(cache)
    d["pinned"] = [f.record() for f in fetched]
    d["fetch_seconds"] = round(t_fetch, 3)
    d["time_seconds"] = round(time.perf_counter() - t0, 3)
    stats.time_seconds = d["time_seconds"]
    atomic_write_json(Path(out) / "stats.json", json.loads(json.dumps(d)))
    return stats
