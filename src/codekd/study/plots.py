"""Plots in the paper's style: score vs student size, one line per method, teacher dashed
(and the TF-IDF baseline and the majority class as horizontal lines when known)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STYLE = {"ft": ("FT", "o", "#7f7f7f"), "kd": ("KD", "s", "#1f77b4"), "dist": ("DIST", "^", "#2ca02c"),
         "pkd": ("PKD", "D", "#ff7f0e"), "ckd": ("CKD", "*", "#d62728")}


def plot_scores(path: str | Path, rows: list[dict[str, Any]], teacher_score: float | None, *, title: str = "",
                baseline: float | None = None, majority: float | None = None) -> Path:
    """Score vs student size; ``baseline`` (TF-IDF) and ``majority`` (always answering the majority
    class) are drawn as horizontal lines when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    families = sorted({r["student"].split("-")[0] for r in rows})
    for method in sorted({r["method"] for r in rows}):
        label, marker, color = STYLE.get(method, (method.upper(), "x", None))
        for fam in families:
            pts = sorted((r["params"] or 0, r["mean"], r["std"]) for r in rows
                         if r["method"] == method and r["student"].startswith(fam + "-") and r["params"])
            if not pts:
                continue
            xs = [p[0] / 1e6 for p in pts]
            ys = [100 * p[1] for p in pts]
            es = [100 * p[2] for p in pts]
            ax.errorbar(xs, ys, yerr=es if any(es) else None, marker=marker, color=color,
                        linestyle="-" if fam == "roberta" else "--", capsize=2,
                        markerfacecolor=color if fam == "roberta" else "none",
                        label=f"{label} ({fam})" if len(families) > 1 else label)
    if teacher_score is not None:
        ax.axhline(100 * teacher_score, color="black", linestyle=":", linewidth=1.2, label="teacher")
    if baseline is not None:
        ax.axhline(100 * baseline, color="#9467bd", linestyle="-.", linewidth=1.0, label="TF-IDF baseline")
    if majority is not None:
        ax.axhline(100 * majority, color="#8c564b", linestyle=(0, (1, 3)), linewidth=1.0, label="majority class")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(LogLocator(subs=(2, 5)))
    ax.set_xlabel("student parameters (M, log scale)")
    ax.set_ylabel("test score (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
