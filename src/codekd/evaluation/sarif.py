"""SARIF 2.1.0 output of ``codekd predict`` (and ``predict --lint``), for GitHub code scanning and
IDE SARIF viewers.

One run, tool driver ``codekd`` with the package version and one rule per label (rule id
``TASK/LABEL``, e.g. ``exception/KeyError`` or ``defect/1``). Every result names its file by a URI
relative to the source root with ``uriBaseId`` ``SRCROOT``: the root of the git work tree that
holds the scanned folder (GitHub code scanning resolves URIs against the repository root), else
the scanned folder itself; ``originalUriBaseIds`` gives its absolute ``file:`` URI. Each result
has its region (``startLine`` / ``endLine``, and for lint findings the columns of the caught name),
the function as a logical location, and the model's score (``rank`` 0-100 and
``properties.score``, with the top labels in ``properties.top``).

* Predictions (``predict``): one result per function. Binary tasks whose positive class is the
  predicted label (``defect`` label ``1``) are findings (``kind`` ``fail``, level ``warning``);
  every other prediction is ``informational`` (level ``none``).
* Lint findings (``predict --lint``): one ``fail`` / ``warning`` result per clause where the model
  is confident another exception type is caught; the rule is the type the model expects.

Files that were skipped (too large, unparsable) are tool execution notifications of the run's
invocation. The document validates against the OASIS SARIF 2.1.0 JSON schema (tests ship it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
URI_BASE = "SRCROOT"


def tool_version() -> str:
    import importlib.metadata as md

    try:
        return md.version("codekd")
    except md.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def rule_id(task: str | None, label: str) -> str:
    """``TASK/LABEL`` with anything but letters, digits, ``._-`` replaced by ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(label)) or "_"
    return f"{task or 'model'}/{safe}"


def _uri(path: str | Path) -> str:
    return quote(Path(path).as_posix(), safe="/")


def source_root(scanned: str | Path) -> Path:
    """The folder SARIF URIs are relative to: the root of the git work tree holding ``scanned``
    (GitHub code scanning resolves URIs against the repository root), else the scanned folder
    (a file's folder)."""
    base = Path(scanned).resolve()
    if base.is_file():
        base = base.parent
    for d in (base, *base.parents):
        if (d / ".git").exists():
            return d
    return base


def _rules(task: str | None, labels: list[str], lint: bool) -> list[dict[str, Any]]:
    rules = []
    for lab in labels:
        if lint:
            short = f"The model expects {lab} to be caught here, not the type the code catches."
        elif task == "exception":
            short = f"The model predicts {lab} as the exception type caught here."
        else:
            short = f"The model predicts label {lab} for this function."
        rules.append({"id": rule_id(task, lab), "name": re.sub(r"[^A-Za-z0-9]", "", f"{task or 'model'}{lab}") or "label",
                      "shortDescription": {"text": short},
                      "defaultConfiguration": {"level": "warning" if lint else "note"},
                      "properties": {"label": lab, "task": task}})
    return rules


def _positive(task: str | None, labels: list[str], label: str) -> bool:
    return len(labels) == 2 and label == labels[1] and task != "exception"


def _location(file: Path, region: dict[str, int], function: str | None) -> dict[str, Any]:
    loc: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": _uri(file), "uriBaseId": URI_BASE},
                                                "region": region}}
    if function:
        loc["logicalLocations"] = [{"fullyQualifiedName": function, "kind": "function"}]
    return loc


def _top_text(top: list[dict[str, Any]]) -> str:
    return ", ".join(f"{t['label']} {t['probability']:.2f}" for t in top)


def to_sarif(res: dict[str, Any], root: str | Path) -> dict[str, Any]:
    """The SARIF log of a :func:`~codekd.evaluation.predict.predict` or
    :func:`~codekd.evaluation.predict.lint` result; ``root`` is the scanned folder (or file)."""
    lint = "findings" in res
    task, labels = res.get("task"), list(res["labels"])
    index = {lab: i for i, lab in enumerate(labels)}
    scanned = Path(root).resolve()
    base = source_root(scanned)
    prefix = (scanned.parent if scanned.is_file() else scanned).relative_to(base)

    def rel(file: str) -> Path:  # a result's file: relative to the scanned folder, or the scanned file
        return prefix / (scanned.name if scanned.is_file() else file)

    results: list[dict[str, Any]] = []
    for f in res["findings"] if lint else res["predictions"]:
        label = f["expected"] if lint else f["label"]
        score = float(f["probability"])
        if lint:
            region = {"startLine": f["line"], "startColumn": f["column"], "endLine": f["end_line"],
                      "endColumn": f["end_column"]}
            text = (f"catches {f['caught']} here, but the model expects {label} "
                    f"(probability {score:.2f}; {f['caught']} {f['probability_caught']:.2f}; top-3: {_top_text(f['top'])})")
            kind, level = "fail", "warning"
            props = {"score": score, "caught": f["caught"], "probability_caught": f["probability_caught"],
                     "top": f["top"], "function_lines": [f["function_line"], f["function_end_line"]]}
        else:
            region = {"startLine": f["line"], "endLine": f["end_line"]}
            what = f" (the code catches {f['actual']})" if f.get("actual") else ""
            text = f"{f['function']}: predicted {label} (probability {score:.2f}; top: {_top_text(f['top'])}){what}"
            finding = _positive(task, labels, label)
            kind, level = ("fail", "warning") if finding else ("informational", "none")
            props = {"score": score, "top": f["top"]}
            if "actual" in f:
                props["actual"] = f["actual"]
        results.append({"ruleId": rule_id(task, label), "ruleIndex": index[label], "kind": kind, "level": level,
                        "message": {"text": text}, "locations": [_location(rel(f["file"]), region, f.get("function"))],
                        "rank": round(100.0 * score, 2), "properties": props})
    notes = [{"level": "warning", "message": {"text": f"skipped {s['file']}: {s['reason']}"},
              "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(rel(s["file"])), "uriBaseId": URI_BASE}}}]}
             for s in res.get("skipped", [])]
    run_props: dict[str, Any] = {"model": str(res["model"]), "runtime": res.get("runtime"), "task": task,
                                 "files": res.get("files")}
    if lint:
        run_props.update(threshold=res["threshold"], clauses=res["clauses"], checked=res["checked"],
                         not_in_labels=res["not_in_labels"], not_in_labels_total=res["not_in_labels_total"],
                         not_checked=res["not_checked"])
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "codekd", "version": tool_version(), "semanticVersion": tool_version(),
                                "rules": _rules(task, labels, lint)}},
            "originalUriBaseIds": {URI_BASE: {"uri": base.as_uri() + "/"}},
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notes}],
            "columnKind": "utf16CodeUnits",
            "results": results,
            "properties": run_props,
        }],
    }


__all__ = ["to_sarif", "rule_id", "source_root", "SARIF_VERSION", "URI_BASE"]
