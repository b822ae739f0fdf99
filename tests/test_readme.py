"""Every command in README.md is checked, so README and CLI cannot drift apart.

* Every ``codekd ...`` command in every ``bash`` block is parsed against the Typer app: an unknown
  sub-command or option, a missing required option or a bad value fails (nothing runs); every
  ``make X`` names a Makefile target.
* The blocks marked ```` ```bash runnable ```` are run, command after command and in order, in a
  temporary folder where the test has built what the README's commands read: ``data/exception``
  (a tiny real-code dataset) and a tiny MiniLM-shaped teacher that stands in for ``minilm`` (the
  only substitution, see :data:`SUBSTITUTE`), plus ``path/to/code/`` for ``predict``. Each must exit
  with status 0. Blocks without the marker are those that need the hub, a GPU or hours (README,
  "Contributing").
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\S*)(.*)$")


def blocks(text: str) -> list[tuple[str, set[str], str, int]]:
    """``(language, flags, body, first line number)`` of every fenced block."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group(1):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            out.append((m.group(1), set(m.group(2).split()), "\n".join(body), start + 1))
        i += 1
    return out


def commands(body: str, first_line: int) -> list[tuple[int, list[str]]]:
    """The simple commands of a shell block: continuations joined, heredoc bodies and comments
    dropped, split at ``&&``, ``||``, ``;`` and ``|``, leading ``VAR=value`` assignments removed."""
    out: list[tuple[int, list[str]]] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        lineno, line = first_line + i, lines[i]
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1] + " " + lines[i]
        i += 1
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", line)
        if heredoc:
            while i < len(lines) and lines[i].strip() != heredoc.group(1):
                i += 1
            i += 1
            line = line[:heredoc.start()]
        lex = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lex.whitespace_split = True
        lex.commenters = "#"
        argv: list[str] = []
        for tok in list(lex) + [";"]:
            if tok in (";", "&&", "||", "|", "&"):
                while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
                    argv.pop(0)
                if argv:
                    out.append((lineno, argv))
                argv = []
            else:
                argv.append(tok)
    return out


def readme_commands(runnable: bool | None = None) -> list[tuple[int, list[str]]]:
    found = []
    for lang, flags, body, line in blocks(README.read_text(encoding="utf-8")):
        if lang not in ("bash", "sh", "shell"):
            continue
        if runnable is None or ("runnable" in flags) == runnable:
            found += commands(body, line)
    return found


def parse_cli(argv: list[str]) -> None:
    """Parse ``codekd ARGS`` with the real app down to the leaf command, without running it."""
    import typer.main

    from codekd.cli import app
    from codekd.plugins import load_plugins

    load_plugins()
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("codekd", list(argv))
    while hasattr(cmd, "resolve_command"):
        # click >= 8.2 keeps the sub-command's name apart from the rest of the arguments
        args = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not args:
            raise AssertionError("a command group without a sub-command")
        name, sub, rest = cmd.resolve_command(ctx, args)
        if sub is None:
            raise AssertionError(f"unknown command {name!r}")
        ctx = sub.make_context(name, list(rest), parent=ctx)
        cmd = sub


def test_the_parser_sees_what_it_should():
    body = ("# a comment\nFOO=1 codekd data check d --task t && codekd bench a \\\n    --data d  # tail\n"
            "python - <<'PY'\nimport x\nPY\nmake demo   # installs\n")
    assert commands(body, 10) == [(11, ["codekd", "data", "check", "d", "--task", "t"]),
                                  (11, ["codekd", "bench", "a", "--data", "d"]), (13, ["python", "-"]),
                                  (16, ["make", "demo"])]
    for bad in (["bench", "a", "--bogus"], ["distill", "--data", "d", "--task", "t"], ["no-such-command"],
                ["teacher"], ["distill", "--data", "d", "--task", "t", "--out", "o", "--epochs", "two"]):
        with pytest.raises(Exception):
            parse_cli(bad)
    parse_cli(["distill", "--data", "d", "--task", "t", "--out", "o", "--max-steps", "3"])


def test_readme_has_runnable_blocks_and_says_how_they_work():
    text = README.read_text(encoding="utf-8")
    assert readme_commands(runnable=True), "no ```bash runnable block in README.md"
    assert "```bash runnable" in text and "tests/test_readme.py" in text  # the contributing section


def test_every_readme_command_parses():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", makefile, flags=re.M))
    checked = 0
    for line, argv in readme_commands():
        prog = Path(argv[0]).name
        if prog == "codekd":
            try:
                parse_cli(argv[1:])
            except Exception as exc:  # noqa: BLE001  (click's usage errors, or an AssertionError above)
                raise AssertionError(f"README.md:{line}: {' '.join(argv)}\n  {type(exc).__name__}: "
                                     f"{getattr(exc, 'format_message', lambda: exc)()}") from None
            checked += 1
        elif prog == "make":
            assert set(argv[1:]) <= targets, f"README.md:{line}: make {' '.join(argv[1:])}: no such target"
    assert checked >= 30


def test_inline_codekd_mentions_name_real_commands_and_options():
    """`codekd ...` in running text is often a fragment (`codekd data check`, `codekd bench --threads`):
    its command and options must exist; missing arguments are fine there."""
    text = re.sub(r"```.*?```", "", README.read_text(encoding="utf-8"), flags=re.S)
    spans = [" ".join(x.split()) for x in re.findall(r"`(codekd [^`]+)`", text)]
    checked = 0
    for span in spans:
        argv = shlex.split(span)[1:]
        if "..." in argv or any(a.isupper() for a in argv):  # placeholders: codekd STAGE --help
            continue
        argv = [a for a in argv if a != "--help"]
        if not argv:
            continue
        try:
            parse_cli(argv)
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ not in ("MissingParameter", "BadOptionUsage") and \
                    "requires an argument" not in str(getattr(exc, "format_message", lambda: exc)()):
                raise AssertionError(f"README: `{span}`: {type(exc).__name__}: "
                                     f"{getattr(exc, 'format_message', lambda: exc)()}") from None
        checked += 1
    assert checked >= 10


def test_readme_python_blocks_compile_and_import_what_exists():
    """The Python snippets are not run (they train models), but their syntax and every name they
    import from codekd are checked."""
    import ast
    import importlib

    checked = 0
    for lang, _, body, line in blocks(README.read_text(encoding="utf-8")):
        if lang != "python":
            continue
        tree = ast.parse(body, filename=f"README.md:{line}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("codekd"):
                mod = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(mod, alias.name), f"README.md:{line + node.lineno - 1}: {node.module}.{alias.name}"
                    checked += 1
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("codekd"):
                        importlib.import_module(alias.name)
    assert checked >= 10


def test_readme_names_the_study_database_file_the_runner_writes(tmp_path):
    from codekd.study.spec import StudySpec, study_db_path

    text = README.read_text(encoding="utf-8")
    spec = StudySpec.model_construct(out=str(tmp_path))
    name = study_db_path(spec, tmp_path).name
    assert f"`{name}`" in text
    assert not re.search(r"study\.db\b", text)


# ------------------------------------------------------------------------------------------ running
#: README names that stand for something the test builds: the real MiniLM (22.7M parameters) is
#: replaced by a tiny MiniLM-shaped teacher, so the whole block runs in about a minute.
SUBSTITUTE = {"minilm": "teacher"}


@pytest.fixture(scope="module")
def readme_world(tmp_path_factory):
    from fixtures_models import exception_dataset, tiny_bert_teacher

    root = tmp_path_factory.mktemp("readme")
    exception_dataset(root / "data" / "exception")
    teacher = tiny_bert_teacher(root / "fixtures" / "minilm-tiny", layers=6, max_length=512)  # as MiniLM
    code = root / "path" / "to" / "code"
    code.mkdir(parents=True)
    (code / "app.py").write_text("def load(path):\n    try:\n        return open(path).read()\n"
                                 "    except __HOLE__:\n        return None\n\n\n"
                                 "def get(d, k):\n    try:\n        return d[k]\n    except KeyError:\n"
                                 "        return None\n")
    return root, teacher


def test_runnable_readme_blocks_run(readme_world, monkeypatch, capsys):
    from codekd.cli import main

    root, teacher = readme_world
    monkeypatch.chdir(root)
    ran, timings = [], []
    for line, argv in readme_commands(runnable=True):
        assert Path(argv[0]).name == "codekd", f"README.md:{line}: a runnable block runs codekd only"
        stand_in = {"teacher": str(teacher)}
        args = [stand_in[SUBSTITUTE[a]] if a in SUBSTITUTE else a for a in argv[1:]]
        t0 = time.perf_counter()
        rc = main(args)
        out = capsys.readouterr()
        timings.append((round(time.perf_counter() - t0, 1), " ".join(argv[:4])))
        assert rc == 0, f"README.md:{line}: {' '.join(argv)} exited {rc}\n{out.out[-3000:]}\n{out.err[-3000:]}"
        ran.append((argv, out.out + out.err))
    names = [" ".join(a[1:3]) for a, _ in ran]
    assert "teacher finetune" in names and any(n.startswith("distill") for n in names) and "bench runs/teacher-minilm" in names
    # the small-data guard spoke before the tiny runs spent their time (48 training examples)
    fin = next(o for a, o in ran if a[1:3] == ["teacher", "finetune"])
    assert "warning: the training split has 48 examples" in fin
    assert (root / "runs" / "gru-kd" / "best" / "config.json").is_file()
    print("README commands, seconds:", timings)
