"""Atomic file and folder writes: nothing half-written survives an interruption, and nothing of the
user's is ever renamed, replaced or deleted.

* :func:`atomic_write_text` / :func:`atomic_write_json` write through a temporary sibling and
  ``os.replace``.
* :func:`atomic_dir` builds a folder in a temporary sibling and then swaps it in as a whole
  (``renameat2(RENAME_EXCHANGE)`` where the kernel has it, so there is no moment without the
  folder). It refuses to replace anything that is not a codekd output of the same kind: a file, a
  link, or a non-empty folder without the kind's marker file.
* Temporary siblings are named ``.NAME.PID-XXXXXXXX.tmp`` (the replaced folder, in the fallback
  path, ``.NAME.old-PID``); :func:`tidy` removes those of processes that are gone, and puts back a
  folder whose replacement was interrupted between its two renames.
* A write that fails because the machine cannot store it (disk full, read-only, a file-size limit)
  raises :class:`~codekd.errors.StorageError` naming the path: one line, exit status 1.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import CodekdError, DataError, OutputError, StorageError

# .NAME.PID-XXXXXXXX.tmp (this version), .NAME.XXXXXXXX.tmp (older versions), .NAME.old-PID
_LEFTOVER = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)-[a-z0-9_]+\.tmp|(?P<legacy>[a-z0-9_]{8})\.tmp"
                       r"|old-(?P<oldpid>\d+))$")
LEGACY_STALE_S = 3600.0  # leftovers without a process id are removed once untouched this long

_STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large (the file-size limit, ulimit -f, was reached)",
}
_STORAGE_TEXT = (("No space left on device", errno.ENOSPC), ("os error 28", errno.ENOSPC),
                 ("Disk quota exceeded", errno.EDQUOT), ("Read-only file system", errno.EROFS),
                 ("os error 30", errno.EROFS), ("File too large", errno.EFBIG), ("os error 27", errno.EFBIG))
_WRITE_FAILED_TEXT = ("file write failed", "iostream error", "PytorchStreamWriter failed", "unexpected pos")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------------------------ faults

def _write_failure_reason(folder: Path | None) -> str:
    """Why a write that failed without an errno (torch's C++ writer) failed, as far as can be told."""
    if folder is not None:
        try:
            probe = folder if folder.exists() else folder.parent
            if shutil.disk_usage(probe).free < (4 << 20):
                return _STORAGE_ERRNOS[errno.ENOSPC]
        except OSError:
            pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            return _STORAGE_ERRNOS[errno.EFBIG]
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    return "the write failed (is the disk full?)"


def storage_error(exc: BaseException, path: str | Path | None = None, *, writing: bool = True) -> StorageError | None:
    """The :class:`StorageError` for an exception that means the machine could not store a file
    (disk full, read-only, a file-size limit; with ``writing``, a write refused by permissions
    too), else None."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, CodekdError):  # already a one-line error of the input
        return None
    where = Path(path) if path is not None else None
    code = exc.errno if isinstance(exc, OSError) else None
    if not writing and code in (errno.EACCES, errno.EPERM):
        return None  # could be a read: the caller reports it as it is
    if code not in _STORAGE_ERRNOS:
        code = None
        text = str(exc)
        for needle, c in _STORAGE_TEXT:
            if needle in text:
                code = c
                break
        if code is None:
            if isinstance(exc, RuntimeError) and any(t in text for t in _WRITE_FAILED_TEXT):
                return StorageError(f"cannot write: {_write_failure_reason(where)}", path=where)
            return None
    name = getattr(exc, "filename", None) or where
    return StorageError(f"cannot write: {_STORAGE_ERRNOS[code]}", path=name)


@contextlib.contextmanager
def storage_faults(path: str | Path) -> Iterator[None]:
    """Turn a storage fault inside the block into a one-line :class:`StorageError` naming ``path``."""
    try:
        yield
    except Exception as exc:
        err = storage_error(exc, path)
        if err is None or err is exc:
            raise
        raise err from exc


# ------------------------------------------------------------------------------------ leftovers

def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover
        return True
    return True


def _newest_mtime(p: Path) -> float:
    try:
        newest = p.lstat().st_mtime
        if p.is_dir() and not p.is_symlink():
            for sub in p.iterdir():
                newest = max(newest, sub.lstat().st_mtime)
        return newest
    except OSError:
        return time.time()


def is_leftover(name: str) -> bool:
    """Whether a file name is one of codekd's temporary siblings (``.NAME.PID-X.tmp``, ``.NAME.old-PID``)."""
    return _LEFTOVER.match(name) is not None


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def tidy(folder: str | Path, names: str | Iterable[str] | None = None) -> list[str]:
    """Clean codekd's leftovers of the outputs ``names`` in ``folder`` (all when None): a ``.NAME.old-PID``
    whose ``NAME`` is missing is put back (a replacement was interrupted between its two renames);
    temporary siblings of processes that are gone (and older leftovers without a process id that
    nothing touched for :data:`LEGACY_STALE_S`) are removed. Returns what was done, one line each."""
    folder = Path(folder)
    wanted = {names} if isinstance(names, str) else (set(names) if names is not None else None)
    done: list[str] = []
    try:
        entries = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return done
    except OSError:
        return done
    for p in entries:
        m = _LEFTOVER.match(p.name)
        if m is None or (wanted is not None and m.group("name") not in wanted):
            continue
        base = folder / m.group("name")
        if m.group("oldpid") is not None:
            if _pid_alive(int(m.group("oldpid"))):
                continue
            if not base.exists() and not base.is_symlink():
                with contextlib.suppress(OSError):
                    os.replace(p, base)
                    done.append(f"restored {base} from {p.name}")
                    continue
        elif m.group("pid") is not None:
            if _pid_alive(int(m.group("pid"))):
                continue
        elif time.time() - _newest_mtime(p) < LEGACY_STALE_S:
            continue
        _remove(p)
        done.append(f"removed {p}")
    return done


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-"


# ------------------------------------------------------------------------------------ files

def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    with storage_faults(path):
        if path.is_dir() and not path.is_symlink():
            raise OutputError("is a folder; codekd writes a file here and never replaces a folder", path=path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tidy(path.parent, path.name)
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    return path


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False, ensure_ascii=False) + "\n")


def read_json(path: str | Path, what: str = "file", error: type = DataError) -> Any:
    """``json.loads`` of a file; a missing, unreadable, non-UTF-8 or malformed file raises ``error``
    (a :class:`~codekd.errors.CodekdError`) naming the file, and the line of a JSON error."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{what} is a folder, not a file", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not valid UTF-8 (byte {exc.start})", path=path) from None
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", path=path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = "empty" if not text.strip() else f"malformed JSON ({json_error_text(exc)})"
        raise error(f"{what} is {reason}; was it truncated?", path=path,
                    line=exc.lineno if text.strip() else None) from None


def json_error_text(exc: json.JSONDecodeError) -> str:
    """A JSON error as ``<message> at column N`` (never "at at": some messages end in "at")."""
    msg = exc.msg[:-3] if exc.msg.endswith(" at") else exc.msg
    return f"{msg} at column {exc.colno}"


# ------------------------------------------------------------------------------------ folders

def _only_leftovers(folder: Path) -> bool:
    return all(is_leftover(p.name) for p in folder.iterdir())


def check_output_dir(path: str | Path, *, markers: tuple[str, ...], what: str, kind: str | None = None) -> None:
    """Refuse an output folder that is not codekd's own of this kind, before any work is done.

    Accepted: a path that does not exist, an empty folder (codekd's own leftovers aside), or a
    folder holding one of ``markers``. ``kind`` (optional): the ``kind:`` a run folder's
    ``config.yaml`` must have, so a teacher run is never overwritten by a student run.
    """
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise OutputError("is a dangling link; codekd will not write through it (choose another --out)", path=p)
    if not p.exists():
        return
    if not p.is_dir():
        raise OutputError(f"exists and is not a folder; codekd never replaces a file (choose another --out for the "
                          f"{what})", path=p)
    try:
        if _only_leftovers(p):
            return
    except OSError as exc:
        raise StorageError(f"cannot read the output folder: {exc.strerror or exc}", path=p) from None
    if not any((p / m).exists() for m in markers):
        raise OutputError(f"exists and is not a codekd {what} (no {' or '.join(markers)} in it); codekd writes only "
                          "into its own outputs: choose another --out or an empty folder", path=p)
    if kind is not None and (p / "config.yaml").is_file():
        import yaml

        try:
            saved = yaml.safe_load((p / "config.yaml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            saved = None
        other = saved.get("kind", "distill") if isinstance(saved, dict) else None
        if other is not None and other != kind:
            raise OutputError(f"holds a codekd {other} run, not a {kind} run; choose another --out", path=p)


def _check_replaceable(path: Path, marker: str | None, what: str) -> None:
    if path.is_symlink():
        raise OutputError(f"is a link; codekd will not replace it with the {what} (choose another --out)", path=path)
    if not path.exists():
        return
    if not path.is_dir():
        raise OutputError(f"exists and is not a folder; codekd never replaces a file (choose another --out for the "
                          f"{what})", path=path)
    if marker is not None and not (path / marker).exists() and not _only_leftovers(path):
        raise OutputError(f"exists and is not a codekd {what} (no {marker} in it); codekd replaces only its own "
                          "outputs: choose another --out or an empty folder", path=path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_exchange_fn: Any = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2``); False where unavailable."""
    global _exchange_fn
    if _exchange_fn is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _exchange_fn = fn
        except (AttributeError, OSError):
            _exchange_fn = False
    if _exchange_fn is False:
        return False
    if _exchange_fn(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, marker: str | None = None, what: str = "output folder") -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``path`` as a whole.

    An interrupted block leaves ``path`` as it was (the temporary folder is removed). ``path``
    must be absent, an empty folder, or (with ``marker``) a folder holding that file: anything
    else (a file, a link, a folder of the user's) is refused with :class:`OutputError`, untouched.
    """
    path = Path(path)
    _check_replaceable(path, marker, what)
    with storage_faults(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tidy(path.parent, path.name)
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    except BaseException as exc:
        err = storage_error(exc, path) if isinstance(exc, Exception) else None  # asks about free space first
        shutil.rmtree(tmp, ignore_errors=True)
        if err is not None and err is not exc:
            raise err from exc
        raise
    with storage_faults(path):
        try:
            _check_replaceable(path, marker, what)  # the block may have run for hours
            if path.exists() and _exchange(tmp, path):
                shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
                return
            old = None
            try:
                if path.exists():  # no exchange on this system: two renames (tidy() repairs a kill between)
                    old = path.with_name(f".{path.name}.old-{os.getpid()}")
                    os.replace(path, old)
                os.replace(tmp, path)
            except BaseException:
                if old is not None and not path.exists():
                    os.replace(old, path)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
