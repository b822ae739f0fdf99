"""Fetch pinned source packages from package registries into a download cache.

Three registries, each through its ordinary client:

* PyPI: ``python -m pip download --no-deps --only-binary :all: NAME==VERSION`` (a wheel for the
  running interpreter, or a pure ``py3-none-any`` one); ``binary=False`` asks for the sdist
  (``--no-binary :all:``) instead. Wheels are zip files; sdists ``.tar.gz`` / ``.zip``.
* npm: ``npm pack NAME@VERSION --pack-destination DIR`` (the published ``.tgz``).
* Debian: ``apt-get source --download-only NAME=VERSION`` (needs ``deb-src`` lines); the upstream
  ``.orig.tar.*`` is unpacked, without Debian's patches.

Cache layout (``cache`` defaults to ``~/.cache/codekd``)::

    <cache>/pypi/dl/<name>-<version>[-sdist]/<downloaded file>
    <cache>/pypi/src/<name>-<version>[-sdist]/...      only the wanted source files, unpacked
    <cache>/npm/dl/<name>-<version>/<name>-<version>.tgz
    <cache>/npm/src/<name>-<version>/...
    <cache>/debian/dl/<name>-<version>/... and <cache>/debian/src/<name>-<version>/...

A download or an unpacked folder that is already there is reused (an unpacked folder is complete
once its ``.complete`` marker exists: it is unpacked into a temporary sibling and renamed). So a
second run needs no network at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...errors import DataError
from ...io import sha256_file
from .progress import track

__all__ = ["Fetched", "default_cache", "fetch", "fetch_all", "fetch_debian", "fetch_npm", "fetch_pypi"]

_MARKER = ".complete"


def default_cache() -> Path:
    """``$CODEKD_CACHE`` when set, else ``~/.cache/codekd``."""
    env = os.environ.get("CODEKD_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "codekd"


@dataclass(frozen=True)
class Fetched:
    """One pinned package, unpacked: ``root`` holds only the wanted source files."""

    registry: str  # "pypi" | "npm"
    name: str
    version: str
    root: Path
    archive: str  # downloaded file name
    sha256: str

    def record(self) -> dict[str, str]:
        return {"registry": self.registry, "name": self.name, "version": self.version,
                "archive": self.archive, "sha256": self.sha256}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name.replace("/", "__"))



def _one_file(folder: Path) -> Path | None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return files[0] if len(files) == 1 else None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip() and "WARNING" not in ln]
    return lines[-1] if lines else "no output"


def _run(cmd: list[str], what: str, cwd: Path | None = None, check: bool = True) -> str:
    try:
        res = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=600)
    except FileNotFoundError:
        raise DataError(f"{what}: {cmd[0]} not found (install it, or fill the cache on another machine)") from None
    except subprocess.TimeoutExpired:
        raise DataError(f"{what}: timed out after 600 s") from None
    if res.returncode != 0:
        if check:
            raise DataError(f"{what} failed: {_last_line(res.stderr or res.stdout)}")
        return _last_line(res.stderr or res.stdout)
    return ""


def _is_wanted(member: str, suffixes: tuple[str, ...]) -> bool:
    parts = member.replace("\\", "/").split("/")
    if member.startswith("/") or ".." in parts or any(p == "" for p in parts[:-1]):
        return False
    return member.endswith(suffixes)


def _unpack(archive: Path, dest: Path, suffixes: tuple[str, ...], strip_top: bool) -> None:
    """Extract the members ending in ``suffixes`` into ``dest`` (atomically, with a marker)."""
    if (dest / _MARKER).exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        def target(member: str) -> Path | None:
            rel = member.replace("\\", "/")
            if strip_top:
                rel = rel.split("/", 1)[1] if "/" in rel else ""
            return tmp / rel if rel else None

        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.is_dir() or not _is_wanted(info.filename, suffixes):
                        continue
                    out = target(info.filename)
                    if out is None:
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        else:
            with tarfile.open(archive) as tf:
                for m in tf:
                    if not m.isfile() or not _is_wanted(m.name, suffixes):
                        continue
                    out = target(m.name)
                    if out is None:
                        continue
                    src = tf.extractfile(m)
                    if src is None:
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        (tmp / _MARKER).write_text(archive.name + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot unpack {archive.name}: {exc}", path=archive) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fetch_pypi(name: str, version: str, cache: str | Path | None = None, *, binary: bool = True,
               suffixes: tuple[str, ...] = (".py",)) -> Fetched:
    """Download ``name==version`` from PyPI (cached) and unpack its ``suffixes`` files."""
    cache = Path(cache) if cache is not None else default_cache()
    key = f"{_safe(name)}-{_safe(version)}" + ("" if binary else "-sdist")
    dl = cache / "pypi" / "dl" / key
    archive = _one_file(dl) if dl.is_dir() else None
    if archive is None:
        dl.mkdir(parents=True, exist_ok=True)
        for stale in dl.iterdir():  # a half-finished earlier download
            if stale.is_file():
                stale.unlink()
        fmt = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
        _run([sys.executable, "-m", "pip", "download", "--no-deps", *fmt, "--no-build-isolation",
              "--disable-pip-version-check", "-q", "-d", str(dl), f"{name}=={version}"],
             f"pip download {name}=={version}")
        archive = _one_file(dl)
        if archive is None:
            raise DataError(f"pip download {name}=={version} left no single file in the cache", path=dl)
    src = cache / "pypi" / "src" / key
    # sdists have one top folder (name-version/); wheels do not
    _unpack(archive, src, suffixes, strip_top=not archive.name.endswith(".whl"))
    return Fetched("pypi", name, version, src, archive.name, sha256_file(archive))


def fetch_npm(name: str, version: str, cache: str | Path | None = None, *,
              suffixes: tuple[str, ...] = (".java",)) -> Fetched:
    """Download the npm package ``name@version`` (cached) and unpack its ``suffixes`` files."""
    cache = Path(cache) if cache is not None else default_cache()
    key = f"{_safe(name)}-{_safe(version)}"
    dl = cache / "npm" / "dl" / key
    archive = _one_file(dl) if dl.is_dir() else None
    if archive is None:
        dl.mkdir(parents=True, exist_ok=True)
        for stale in dl.iterdir():
            if stale.is_file():
                stale.unlink()
        _run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(dl), "--silent",
              "--ignore-scripts"], f"npm pack {name}@{version}")
        archive = _one_file(dl)
        if archive is None:
            raise DataError(f"npm pack {name}@{version} left no single file in the cache", path=dl)
    src = cache / "npm" / "src" / key
    _unpack(archive, src, suffixes, strip_top=True)  # npm tarballs have one top folder: package/
    return Fetched("npm", name, version, src, archive.name, sha256_file(archive))


def fetch_debian(name: str, version: str, cache: str | Path | None = None, *,
                 suffixes: tuple[str, ...] = (".java",)) -> Fetched:
    """Download the Debian source package ``name=version`` (``apt-get source --download-only``,
    which needs ``deb-src`` lines for a suite that has that version; cached) and unpack the
    ``suffixes`` files of its upstream tarball (``.orig.tar.*``: Debian's patches are not applied)."""
    cache = Path(cache) if cache is not None else default_cache()
    key = f"{_safe(name)}-{_safe(version)}"
    dl = cache / "debian" / "dl" / key

    def orig() -> Path | None:
        got = sorted(p for p in dl.iterdir() if ".orig.tar." in p.name and not p.name.endswith(".asc")) \
            if dl.is_dir() else []
        return got[0] if got else None

    archive = orig()
    if archive is None:
        dl.mkdir(parents=True, exist_ok=True)
        # only the upstream tarball is needed: a missing .debian.tar / .diff on a mirror is not fatal
        err = _run(["apt-get", "source", "--download-only", "-q", f"{name}={version}"],
                   f"apt-get source {name}={version}", cwd=dl, check=False)
        archive = orig()
        if archive is None:
            raise DataError(f"apt-get source {name}={version} gave no .orig tarball ({err or 'no error'}); "
                            "it needs deb-src lines for Debian bookworm in the apt sources and 'apt-get update'")
    src = cache / "debian" / "src" / key
    _unpack(archive, src, suffixes, strip_top=True)
    return Fetched("debian", name, version, src, archive.name, sha256_file(archive))


def fetch(registry: str, name: str, version: str, cache: str | Path | None = None,
          suffixes: tuple[str, ...] | None = None) -> Fetched:
    """Fetch from ``registry``: ``pypi`` (wheel), ``pypi-sdist``, ``npm`` or ``debian`` (source package)."""
    if registry == "pypi":
        return fetch_pypi(name, version, cache, suffixes=suffixes or (".py",))
    if registry == "pypi-sdist":
        return fetch_pypi(name, version, cache, binary=False, suffixes=suffixes or (".py",))
    if registry == "npm":
        return fetch_npm(name, version, cache, suffixes=suffixes or (".java",))
    if registry == "debian":
        return fetch_debian(name, version, cache, suffixes=suffixes or (".java",))
    raise DataError(f"unknown registry {registry!r} for {name} {version}")


def fetch_all(specs: Sequence[tuple[str, str, str]], cache: str | Path | None, *, progress: bool = True,
              what: str = "fetching", suffixes: dict[str, tuple[str, ...]] | None = None) -> list[Fetched]:
    """Fetch ``[(registry, name, version)]`` in order, with a progress bar."""
    suffixes = suffixes or {}
    return [fetch(reg, name, version, cache, suffixes.get(reg)) for reg, name, version in track(specs, what, progress)]

