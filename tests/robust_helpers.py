"""Helpers of the bad-input and fault tests: run the CLI in-process, snapshot folders, small mounts."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from codekd.cli import main


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``codekd ARGS`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line(err: str) -> str:
    """The error output must be exactly one ``error: ...`` line and no traceback (after any one-line
    ``warning: ...`` lines, such as the small-data warning printed before a run starts)."""
    text = "\n".join(x for x in err.strip().splitlines() if not x.startswith("warning: ")).strip()
    assert "Traceback" not in text, text
    assert text.count("\n") == 0, text
    assert text.startswith("error: "), text
    return text


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root`` (hidden ones too): file bytes, link targets, 'dir' for folders."""
    out: dict[str, object] = {}
    if root.is_symlink() or root.is_file():
        return {".": os.readlink(root) if root.is_symlink() else root.read_bytes()}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = Path(dirpath) / f
            out[os.path.relpath(p, root)] = os.readlink(p) if p.is_symlink() else p.read_bytes()
    return out


def dead_pid() -> int:
    """The id of a process that has exited (for leftovers "of a killed run")."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@contextlib.contextmanager
def small_mount(where: Path, size_kb: int = 4096, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs at ``where`` (a real filesystem that fills up, or a read-only one); the test is
    skipped where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size_kb}k" + (",ro" if read_only else "")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
