"""The Python parts of ``benchmarks/gpu_check.sh``.

``make-teacher DATA OUT``: a UniXcoder-shaped encoder (RoBERTa, 12 layers, hidden 768, 12 heads, FFN
3072, 1026 positions, 10 token types; random weights) with a byte-level BPE vocabulary trained on
DATA's train split (``--vocab-size``, default UniXcoder's 51416; a small corpus may give fewer), saved
as a Hugging Face folder that ``codekd teacher finetune --teacher OUT`` takes. ``--tiny`` builds a
2-layer, width-32 model of the same family instead (the suite's smoke test of this script).

``report RUN RESULTS.md``: the GPU model, library versions, the suite's GPU tests, every stage's
metrics (precision, steps, seconds, test score) and the ``codekd bench`` figures, as Markdown.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any


def make_teacher(data: str, out: str, *, vocab_size: int = 51416, tiny: bool = False, task: str = "exception") -> Path:
    from transformers import AutoTokenizer, RobertaModel

    from codekd.models.hf import quiet_transformers
    from codekd.models.students.sizing import known_teacher_config
    from codekd.vocab import train_vocab

    quiet_transformers()
    out_p = Path(out)
    vocab = out_p.parent / (out_p.name + "-vocab")
    train_vocab(data, task, vocab_size, vocab, max_length=1024 if not tiny else 128)
    tok = AutoTokenizer.from_pretrained(str(vocab))
    cfg = known_teacher_config("unixcoder-base", 2)
    cfg.vocab_size = len(tok)
    cfg.pad_token_id = tok.pad_token_id
    if tiny:
        cfg.update({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                    "max_position_embeddings": 130})
    import torch

    torch.manual_seed(0)
    model = RobertaModel(cfg, add_pooling_layer=False)
    out_p.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_p)
    tok.save_pretrained(out_p)
    return out_p


def _versions() -> dict[str, str]:
    import accelerate
    import torch
    import transformers

    v = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
         "accelerate": accelerate.__version__, "cuda (torch)": str(torch.version.cuda)}
    if torch.cuda.is_available():
        v["gpu"] = torch.cuda.get_device_name(0)
        v["bf16 supported"] = str(torch.cuda.is_bf16_supported())
    from importlib.metadata import PackageNotFoundError, version

    try:
        v["codekd"] = version("codekd")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        v["codekd"] = "source tree"
    import subprocess

    try:
        v["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):  # pragma: no cover
        v["commit"] = "?"
    return v


def _num(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _row(name: str, m: dict[str, Any]) -> str:
    test = m.get("test") or {}

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.2f}"

    return (f"| {name} | {m.get('precision')} | {m.get('teacher_dtype', '-')} | {m.get('global_steps')} | "
            f"{m.get('train_seconds')} | {m.get('device')} | {pct(test.get('f1'))} | {pct(test.get('accuracy'))} |")


def report(run: str, out: str) -> str:
    run_p = Path(run)
    lines = ["# GPU check (benchmarks/gpu_check.sh)", ""]
    lines += ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in _versions().items())]
    nvsmi = run_p / "nvidia-smi.txt"
    if nvsmi.is_file():
        lines += ["", "```", nvsmi.read_text().strip(), "```"]
    tests = run_p / "pytest-gpu.txt"
    if tests.is_file():
        tail = [x for x in tests.read_text().splitlines() if x.strip()][-3:]
        lines += ["", "## GPU-marked tests (`pytest -m gpu`)", "", "```", *tail, "```"]
    lines += ["", "## Stages (bf16)", "",
              "| run | precision | teacher dtype | steps | train s | device | test F1 | test acc |",
              "|---|---|---|---|---|---|---|---|"]
    for m_file in sorted(run_p.glob("*/metrics.json")):
        lines.append(_row(m_file.parent.name, json.loads(m_file.read_text())))
    bench = run_p / "bench.json"
    if bench.is_file():
        b = json.loads(bench.read_text())
        lines += ["", "## `codekd bench` (CUDA: torch.cuda.synchronize() around every timer)", "",
                  "| model | runtime | device | params | seq | batch-1 p50 ms | p95 ms | batch-32 ms | examples/s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in b.get("rows", []):
            lat, bat = r.get("latency_ms") or {}, r.get("batch_ms") or {}
            lines.append(f"| {r.get('model')} | {r.get('runtime')} | {r.get('device_name') or r.get('device')} | "
                         f"{r.get('params')} | {r.get('seq_len')} | {_num(lat.get('p50'))} | {_num(lat.get('p95'))} | "
                         f"{_num(bat.get('p50'))} | {_num(r.get('throughput'), 0)} |")
        lines += ["", f"environment: `{json.dumps(b.get('environment'), default=str)}`"]
    text = "\n".join(lines) + "\n"
    Path(out).write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("make-teacher")
    t.add_argument("data")
    t.add_argument("out")
    t.add_argument("--vocab-size", type=int, default=51416)
    t.add_argument("--tiny", action="store_true")
    r = sub.add_parser("report")
    r.add_argument("run")
    r.add_argument("out")
    a = ap.parse_args(argv)
    if a.cmd == "make-teacher":
        print(make_teacher(a.data, a.out, vocab_size=a.vocab_size, tiny=a.tiny))
    else:
        sys.stdout.write(report(a.run, a.out))


if __name__ == "__main__":
    main()
