"""Writers for the small dataset folders the data tests use."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


C_FUNCS = [
    "int add(int a, int b) {\n  return a + b;\n}",
    "void copy(char *d, const char *s) {\n  while ((*d++ = *s++));\n}",
    "static int f(int x)\n{\n    if (x > 0)\n        return x;\n    return -x;\n}",
    "int g(void) { return 0; }",
]


def devign_folder(root: Path) -> Path:
    for split, n in (("train", 4), ("valid", 2), ("test", 2)):
        write_jsonl(root / f"{split}.jsonl",
                    [{"project": "qemu", "commit_id": "x", "target": i % 2, "func": C_FUNCS[i % 4], "idx": f"{split}{i}"}
                     for i in range(n)])
    return root


JAVA = [
    "public int sum(int[] a) { int s = 0; for (int x : a) s += x; return s; }",
    "public int total(int[] v) { int t = 0; for (int i = 0; i < v.length; i++) t += v[i]; return t; }",
    "public String name() { return this.name; }",
    "public void close() throws IOException { in.close(); }",
]


def bcb_native_folder(root: Path) -> Path:
    write_jsonl(root / "data.jsonl", [{"idx": str(100 + i), "func": f} for i, f in enumerate(JAVA)])
    (root / "train.txt").write_text("100\t101\t1\n100\t102\t0\n102\t103\t0\n101\t103\t0\n")
    (root / "valid.txt").write_text("100\t103\t0\n")
    (root / "test.txt").write_text("101\t100\t1\n102\t101\t0\n")
    return root


def bcb_joined_folder(root: Path) -> Path:
    for split in ("train", "valid", "test"):
        write_jsonl(root / f"{split}.jsonl", [{"func1": JAVA[0], "func2": JAVA[1], "target": 1},
                                              {"func1": JAVA[2], "func2": JAVA[3], "target": 0}])
    return root


PY_FUNCS = [
    "def load(p):\n    try:\n        return open(p).read()\n    except __HOLE__:\n        return None\n",
    "def conv(x):\n    try:\n        return int(x)\n    except __HOLE__:\n        return 0\n",
    "def get(d, k):\n    try:\n        return d[k]\n    except __HOLE__:\n        raise\n",
]


def exception_folder(root: Path, labels=("OSError", "ValueError", "KeyError")) -> Path:
    (root).mkdir(parents=True, exist_ok=True)
    (root / "labels.json").write_text(json.dumps(list(labels)))
    write_jsonl(root / "train.jsonl", [{"func": PY_FUNCS[0], "target": "OSError"},
                                       {"func": PY_FUNCS[1], "target": 1},
                                       {"func": PY_FUNCS[2], "target": "KeyError"}])
    write_jsonl(root / "valid.jsonl", [{"func": PY_FUNCS[1], "target": "ValueError"}])
    write_jsonl(root / "test.jsonl", [{"func": PY_FUNCS[2], "target": 2}])
    return root
