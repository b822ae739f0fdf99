"""Debian source packages: pinned download with apt, ``.dsc`` checks, unpacking, patch series.

Nothing here needs network access except :func:`download_source`, which runs
``apt-get source --download-only PKG=VERSION``. Where apt has no ``deb-src`` entry,
:func:`ensure_deb_src` writes :data:`DEB_SRC_FILE` (a copy of the system's ``deb`` entries with
``Types: deb-src``) and runs ``apt-get update``; it never edits any other apt file.
Without apt, the same files (the ``.dsc`` and the tarballs it lists) can be put in a folder by
hand and passed as ``sources_dir``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from ...errors import DataError
from ...io import sha256_file

__all__ = ["DEB_SRC_FILE", "DscFile", "apt_available", "download_source", "ensure_deb_src", "find_dsc",
           "parse_dsc", "read_series", "unpack_source"]

DEB_SRC_FILE = Path("/etc/apt/sources.list.d/codekd-deb-src.sources")
_UNPACKED_MARK = ".codekd-unpacked"

Log = Callable[[str], None]


def _nolog(msg: str) -> None:
    pass


@dataclass(frozen=True)
class DscFile:
    path: Path
    source: str
    version: str
    format: str
    files: tuple[tuple[str, str, int], ...]  # (name, sha256, size)
    sha256: str  # of the .dsc itself


def upstream_file_version(version: str) -> str:
    """The version as it appears in file names (no epoch): ``1:7.2+dfsg-7`` -> ``7.2+dfsg-7``."""
    return version.split(":", 1)[1] if ":" in version else version



def parse_dsc(path: Path) -> DscFile:
    """Read a ``.dsc``: Source, Version, Format and the Checksums-Sha256 file list."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read .dsc ({exc.strerror})", path=path) from None
    fields: dict[str, str] = {}
    files: list[tuple[str, str, int]] = []
    current = None
    for line in text.splitlines():
        if line.startswith("-----BEGIN PGP SIGNATURE"):
            break
        if line.startswith(" ") and current == "checksums-sha256":
            parts = line.split()
            if len(parts) == 3:
                files.append((parts[2], parts[0], int(parts[1])))
            continue
        m = re.match(r"^([A-Za-z0-9-]+):\s*(.*)$", line)
        if m:
            current = m.group(1).lower()
            fields[current] = m.group(2).strip()
    for key in ("source", "version", "format"):
        if not fields.get(key):
            raise DataError(f"not a Debian source control file (no {key.capitalize()} field)", path=path)
    if not files:
        raise DataError("the .dsc lists no Checksums-Sha256 files", path=path)
    return DscFile(path=path, source=fields["source"], version=fields["version"], format=fields["format"],
                   files=tuple(files), sha256=sha256_file(path))


def verify_dsc_files(dsc: DscFile) -> None:
    """Every file the ``.dsc`` lists is beside it with the listed size and SHA-256."""
    for name, digest, size in dsc.files:
        p = dsc.path.parent / name
        if not p.is_file():
            raise DataError(f"{name}, listed in the .dsc, is missing beside it", path=dsc.path)
        if p.stat().st_size != size or sha256_file(p) != digest:
            raise DataError(f"{name} does not match the SHA-256 the .dsc lists (corrupt or other version)",
                            path=dsc.path)


def find_dsc(folder: Path, package: str, version: str) -> Path | None:
    p = folder / f"{package}_{upstream_file_version(version)}.dsc"
    return p if p.is_file() else None


# --------------------------------------------------------------------------------------------
# apt


def apt_available() -> bool:
    return shutil.which("apt-get") is not None and shutil.which("apt-cache") is not None


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _version_known(package: str, version: str) -> bool:
    r = _run(["apt-cache", "showsrc", "--only-source", package])
    return r.returncode == 0 and any(line.strip() == f"Version: {version}" for line in r.stdout.splitlines())


def _has_deb_src() -> bool:
    r = _run(["apt-get", "indextargets", "--format", "$(CREATED_BY)"])
    return r.returncode == 0 and "Sources" in r.stdout


def _deb_src_text() -> str:
    """deb822 ``deb-src`` stanzas mirroring the system's ``deb`` entries (one-line and deb822)."""
    stanzas: list[str] = []
    lists = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    for f in lists:
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 4 and parts[0] == "deb":
                opts = []
                i = 1
                if parts[1].startswith("["):
                    while not parts[i].endswith("]"):
                        i += 1
                    opts = " ".join(parts[1:i + 1]).strip("[] ").split()
                    i += 1
                uri, suite, comps = parts[i], parts[i + 1], parts[i + 2:]
                extra = "".join(f"Signed-By: {o.split('=', 1)[1]}\n" for o in opts if o.startswith("signed-by="))
                stanzas.append(f"Types: deb-src\nURIs: {uri}\nSuites: {suite}\nComponents: {' '.join(comps)}\n{extra}")
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        if f == DEB_SRC_FILE or not f.is_file():
            continue
        for block in re.split(r"\n\s*\n", f.read_text(errors="replace")):
            lines = [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            kv = {}
            for ln in lines:
                if ":" in ln and not ln.startswith(" "):
                    k, v = ln.split(":", 1)
                    kv[k.strip().lower()] = v.strip()
            if "deb" not in kv.get("types", "").split() or kv.get("enabled", "yes").lower() == "no":
                continue
            body = "".join(f"{k}: {kv[k.lower()]}\n" for k in ("URIs", "Suites", "Components", "Signed-By")
                           if k.lower() in kv)
            stanzas.append("Types: deb-src\n" + body)
    return "".join(s + "\n" for s in dict.fromkeys(stanzas))


def ensure_deb_src(packages: list[tuple[str, str]], log: Log = _nolog, update: bool = True) -> None:
    """Make every pinned ``(package, version)`` known to apt, adding ``deb-src`` entries if needed.

    Writes :data:`DEB_SRC_FILE` (only when apt has no source index at all) and runs
    ``apt-get update``; both are logged. Raises :class:`DataError` when a version stays unknown.
    """
    missing = [(p, v) for p, v in packages if not _version_known(p, v)]
    if not missing:
        return
    if not _has_deb_src():
        text = _deb_src_text()
        if not text:
            raise DataError("apt has no deb-src entry and no deb entry to copy one from; add a deb-src line "
                            "by hand or pass --sources-dir with the .dsc files and tarballs")
        log(f"apt has no deb-src entry: writing {DEB_SRC_FILE} (the system's deb entries as deb-src)")
        try:
            DEB_SRC_FILE.write_text("# Added by codekd (data build-defect): Debian source packages.\n" + text)
        except OSError as exc:
            raise DataError(f"cannot write {DEB_SRC_FILE} ({exc.strerror}); run as root, add a deb-src entry "
                            "by hand, or pass --sources-dir with the .dsc files and tarballs") from None
    if update:
        log("running apt-get update (refreshes apt's package and source indexes)")
        r = _run(["apt-get", "update", "-q"])
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise DataError(f"apt-get update failed: {last}")
        missing = [(p, v) for p, v in packages if not _version_known(p, v)]
    if missing:
        p, v = missing[0]
        raise DataError(f"source package {p}={v} is not in apt's sources ({len(missing)} pinned versions missing; "
                        f"'apt-cache madison {p}' lists what the mirror has: Debian replaces point releases, so "
                        "update the pins, or pass --sources-dir with the pinned .dsc files and tarballs)")


def download_source(package: str, version: str, dest: Path, log: Log = _nolog) -> Path:
    """``apt-get source --download-only PKG=VERSION`` into ``dest`` (reused when already complete)."""
    dsc = find_dsc(dest, package, version)
    if dsc is not None:
        try:
            verify_dsc_files(parse_dsc(dsc))
            return dsc
        except DataError:
            log(f"{dsc.name}: incomplete or corrupt download, fetching again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        os.chmod(tmp, 0o755)  # apt's _apt user must be able to write here when it can drop privileges
        r = _run(["apt-get", "source", "--download-only", "-q", f"{package}={version}"], cwd=tmp)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise DataError(f"apt-get source {package}={version} failed: {last}")
        got = find_dsc(tmp, package, version)
        if got is None:
            raise DataError(f"apt-get source {package}={version} gave no .dsc")
        verify_dsc_files(parse_dsc(got))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest / got.name


# --------------------------------------------------------------------------------------------
# unpacking


def _extract_tar(archive: Path, dest: Path, strip: int = 1) -> None:
    """Regular files only (links and devices skipped), first ``strip`` path parts removed, no escape."""
    try:
        with tarfile.open(archive) as tar:
            for m in tar:
                if not m.isreg():
                    continue
                parts = PurePosixPath(m.name).parts[strip:]
                if not parts or any(p in ("..", "") for p in parts) or PurePosixPath(m.name).is_absolute():
                    continue
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                if src is None:
                    continue
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cannot unpack ({exc})", path=archive) from None


def unpack_source(dsc: DscFile, dest: Path, log: Log = _nolog) -> Path:
    """Unpack the source package **without** applying its patches; reused when already unpacked.

    ``3.0 (quilt)``: the ``.orig.tar.*`` (plus ``.orig-COMP.tar.*`` components into ``COMP/``) and
    the ``.debian.tar.*``; ``3.0 (native)``: the single tarball; other formats with
    ``dpkg-source -x --skip-patches``.
    """
    if (dest / _UNPACKED_MARK).is_file() and (dest / _UNPACKED_MARK).read_text().strip() == dsc.sha256:
        return dest
    verify_dsc_files(dsc)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        names = [n for n, _, _ in dsc.files]
        folder = dsc.path.parent
        if dsc.format.startswith("3.0 (quilt)"):
            orig = [n for n in names if re.search(r"\.orig\.tar\.[a-z0-9]+$", n)]
            comps = [n for n in names if re.search(r"\.orig-[A-Za-z0-9-]+\.tar\.[a-z0-9]+$", n)]
            deb = [n for n in names if re.search(r"\.debian\.tar\.[a-z0-9]+$", n)]
            if len(orig) != 1 or len(deb) != 1:
                raise DataError("3.0 (quilt) package without exactly one orig and one debian tarball", path=dsc.path)
            log(f"unpacking {orig[0]}")
            _extract_tar(folder / orig[0], tmp)
            for c in comps:
                comp = re.search(r"\.orig-([A-Za-z0-9-]+)\.tar\.", c).group(1)  # type: ignore[union-attr]
                _extract_tar(folder / c, tmp / comp)
            shutil.rmtree(tmp / "debian", ignore_errors=True)  # the orig tarball's debian/ is replaced
            _extract_tar(folder / deb[0], tmp, strip=0)
        elif dsc.format.startswith("3.0 (native)"):
            tars = [n for n in names if ".tar." in n]
            _extract_tar(folder / tars[0], tmp)
        else:
            if shutil.which("dpkg-source") is None:
                raise DataError(f"source format {dsc.format!r} needs dpkg-source (apt-get install dpkg-dev)",
                                path=dsc.path)
            shutil.rmtree(tmp)
            r = _run(["dpkg-source", "-x", "--skip-patches", str(dsc.path), str(tmp)])
            if r.returncode != 0:
                last = (r.stderr.strip().splitlines() or ["no output"])[-1]
                raise DataError(f"dpkg-source -x failed: {last}", path=dsc.path)
        (tmp / _UNPACKED_MARK).write_text(dsc.sha256 + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def read_series(root: Path) -> list[tuple[str, int]]:
    """``debian/patches/series`` as ``[(patch name, strip level)]``: comments and blank lines skipped."""
    series = root / "debian" / "patches" / "series"
    if not series.is_file():
        return []
    out = []
    for line in series.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        level = 1
        for opt in parts[1:]:
            m = re.fullmatch(r"-p(\d+)", opt)
            if m:
                level = int(m.group(1))
        out.append((parts[0], level))
    return out
