"""Study expansion, resume, concurrent writers, failures, Ray backend and the report."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
import yaml

from codekd.errors import ConfigError
from codekd.study.report import write_report
from codekd.study.runner import plan, run_study
from codekd.study.spec import expand, load_study
from codekd.study.store import Store

TRAIN = {"max_steps": 2, "epochs": 1, "batch_size": 8, "eval_batch_size": 16, "max_length": 96}


def write_study(path: Path, data: Path, teacher: Path, *, out: str = "out", students=("gru-1.5m",),
                methods=None, seeds=(42,), finetune=True, **extra) -> Path:
    doc = {
        "name": "tiny", "out": out,
        "tasks": {"exception": {"data": str(data)}},
        "teachers": {"bert": ({"base": str(teacher), "finetune": True, "train": {"lr": 1e-4}} if finetune
                              else {"path": str(teacher)})},
        "students": list(students),
        "methods": methods or {"ft": {}, "kd": {}},
        "seeds": list(seeds),
        "train": TRAIN,
        "bench": {"enabled": False},
        **extra,
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_expansion_order_dependencies_and_stable_keys(tmp_path, exc_data, bert_teacher):
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, students=("gru-1.5m", "roberta-0.6m"),
                    methods={"ft": {}, "kd": {}, "dist": {"params": {"temperature": 2}}}, seeds=(1, 2))
    spec, root = load_study(f)
    jobs = expand(spec, root)
    kinds = [j.kind for j in jobs]
    assert kinds[:2] == ["teacher", "cache"] and kinds.count("student") == 2 * 3 * 2
    teacher, cache = jobs[0], jobs[1]
    kd = [j for j in jobs if j.method == "kd"]
    ft = [j for j in jobs if j.method == "ft"]
    assert all(teacher.key in j.depends_on and cache.key in j.depends_on for j in kd)
    assert all(j.depends_on == [] and j.cfg.teacher.path is None for j in ft)  # FT needs no teacher
    assert all(j.cfg.teacher.cache == cache.out for j in kd)
    assert len({j.key for j in jobs}) == len(jobs)
    # keys are stable, and a change touches only the runs it changes
    again = expand(*load_study(f))
    assert [j.key for j in again] == [j.key for j in jobs]
    changed = expand(*load_study(f, ["methods.dist.params.temperature=3"]))
    diff = {a.describe() for a, b in zip(jobs, changed) if a.key != b.key}
    assert diff == {j.describe() for j in jobs if j.method == "dist"}


def test_study_plan_refuses_bad_method_parameters_naming_the_field(tmp_path, exc_data, bert_teacher):
    # every method's parameters go through its typed model when the study is read, before any job runs
    cases = [({"kd": {"params": {"temprature": 2}}}, "methods.kd.params: method 'kd' has no parameter(s) temprature"),
             ({"kd": {"params": {"temperature": "hot"}}},
              "methods.kd.params: method 'kd': parameter temperature must be a number, got str 'hot'"),
             ({"kd": {"params": {"temperature": -1}}}, "methods.kd.params: method 'kd': parameter temperature must be > 0"),
             ({"pkd": {"params": {"alpha": 1.5}}}, "methods.pkd.params: method 'pkd': parameter alpha must be in [0, 1]"),
             ({"ckd": {"params": {"window": 2.5}}}, "method 'ckd': parameter window must be an integer"),
             ({"dist": {"params": {"beta": -1}}}, "method 'dist': parameter beta must be >= 0"),
             ({"kd": {"per_student": {"gru-1.5m": {"params": {"alpha": "x"}}}}},
              "methods.kd.per_student.gru-1.5m.params: method 'kd': parameter alpha must be a number")]
    for methods, want in cases:
        f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, finetune=False, methods=methods)
        with pytest.raises(ConfigError) as err:
            load_study(f)
        assert want in str(err.value) and str(f) in str(err.value), str(err.value)
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, finetune=False, methods={"kd": {}})
    with pytest.raises(ConfigError, match="methods.kd.params: method 'kd': parameter temperature must be a number"):
        load_study(f, ["methods.kd.params.temperature=abc"])


def test_bad_study_files(tmp_path, exc_data, bert_teacher):
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, methods={"kd": {}, "nosuch": {}})
    with pytest.raises(ConfigError, match="unknown method 'nosuch'"):
        load_study(f)
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, typo_key=1)
    with pytest.raises(ConfigError, match="typo_key"):
        load_study(f)


def test_interrupted_study_resumes_to_the_same_database(tmp_path, exc_data, bert_teacher):
    full = write_study(tmp_path / "full.yaml", exc_data, bert_teacher, out="full")
    cut = write_study(tmp_path / "cut.yaml", exc_data, bert_teacher, out="cut")
    r = run_study(full, progress=False)
    assert r["done"] == 4 and r["failed"] == 0
    r1 = run_study(cut, progress=False, stop_after_jobs=2)
    assert r1["interrupted"] and r1["done"] == 2
    _, jobs, status = plan(cut)
    assert sorted(status.values()) == ["done", "done", "pending", "pending"]
    r2 = run_study(cut, progress=False)
    assert r2["skipped"] == 2 and r2["done"] == 4
    # keys of jobs downstream of the fine-tuned teacher include its folder, so compare without them
    a = sorted((row[1:] for row in Store(tmp_path / "full" / "study.sqlite").snapshot()), key=repr)
    b = sorted((row[1:] for row in Store(tmp_path / "cut" / "study.sqlite").snapshot()), key=repr)
    assert a == b and all(row[6] == "done" for row in a)
    # running a finished study again does nothing
    assert run_study(cut, progress=False)["skipped"] == 4


def test_failed_job_is_recorded_and_others_run(tmp_path, exc_data, bert_teacher):
    # a parameter typo is caught when the study is read, before anything runs
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, finetune=False,
                    methods={"ft": {}, "kd": {"params": {"temprature": 2}}})
    with pytest.raises(ConfigError, match="methods.kd.params: method 'kd' has no parameter.s. temprature"):
        load_study(f)
    # a teacher whose weights are damaged fails at run time: its cache and the kd run fail, ft runs
    broken = tmp_path / "teacher"
    import shutil

    shutil.copytree(bert_teacher, broken)
    w = broken / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    f = write_study(tmp_path / "s.yaml", exc_data, broken, finetune=False, methods={"ft": {}, "kd": {}})
    r = run_study(f, progress=False)
    assert r["failed"] == 2 and r["done"] == 1  # cache failed, kd failed (dependency), ft done
    rows = {j["method"]: j for j in Store(tmp_path / "out" / "study.sqlite").jobs(kind="student")}
    assert rows["kd"]["status"] == "failed" and "dependency failed" in rows["kd"]["error"]
    assert rows["ft"]["status"] == "done" and rows["ft"]["test_headline"] is not None
    reasons = {f_["job"]: f_["reason"] for f_ in r["failures"]}
    assert any("truncated or corrupt" in v for k, v in reasons.items() if k.startswith("cache"))
    assert all("\n" not in v for v in reasons.values())


def _writer(db: str, worker: int, n: int) -> None:
    from codekd.study.spec import Job
    from codekd.config import RunConfig

    store = Store(db)
    for i in range(n):
        cfg = RunConfig(task="exception", data="d", out=f"o{worker}-{i}")
        job = Job("student", f"w{worker}-{i}", cfg, "exception", student="s", method="ft", seed=i)
        store.register(job, "concurrency")
        store.mark_running(job.key)
        store.mark_done(job.key, {"test_headline": i / n, "params": worker}, 0.0)


def test_concurrent_writers_lose_nothing(tmp_path):
    db = str(tmp_path / "study.sqlite")
    Store(db)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = Store(db).jobs()
    assert len(rows) == 160 and all(r["status"] == "done" for r in rows)


@pytest.mark.slow
def test_ray_backend_on_a_local_instance(tmp_path, exc_data, bert_teacher, tmp_path_factory):
    pytest.importorskip("ray")
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, finetune=False, methods={"ft": {}, "kd": {}},
                    seeds=(1, 2))
    ray_tmp = tmp_path_factory.mktemp("r", numbered=True)
    r = run_study(f, progress=False, backend="ray",
                  ray_init={"num_cpus": 2, "object_store_memory": 100 * 1024 * 1024, "_temp_dir": str(ray_tmp)})
    errors = [j["error"] for j in Store(tmp_path / "out" / "study.sqlite").jobs(status="failed")]
    assert r["failed"] == 0 and r["done"] == 5, errors  # 1 cache + 2 ft + 2 kd
    rows = Store(tmp_path / "out" / "study.sqlite").jobs(kind="student")
    assert {(j["method"], j["seed"]) for j in rows} == {("ft", 1), ("ft", 2), ("kd", 1), ("kd", 2)}
    assert all(j["status"] == "done" for j in rows)


def test_report_from_a_small_database(tmp_path):
    from codekd.config import RunConfig
    from codekd.study.spec import Job

    store = Store(tmp_path / "study.sqlite")
    scores = {  # (student, method, seed) -> score
        ("gru-1.5m", "ft", 1): 0.50, ("gru-1.5m", "ft", 2): 0.52, ("gru-1.5m", "kd", 1): 0.60, ("gru-1.5m", "kd", 2): 0.62,
        ("roberta-1.5m", "ft", 1): 0.40, ("roberta-1.5m", "kd", 1): 0.45, ("roberta-1.5m", "ckd", 1): 0.70,
        ("gru-1.5m", "ckd", 1): 0.72,
    }
    params = {"gru-1.5m": 1_500_930, "roberta-1.5m": 1_411_778}
    cfg = RunConfig(task="exception", data="d", out="o")
    t = Job("teacher", "T", cfg, "exception", teacher="minilm")
    store.register(t, "x")
    store.mark_done("T", {"test_headline": 0.80, "params": 22_000_000}, 1.0)
    for (s, m, seed), v in scores.items():
        j = Job("student", f"{s}-{m}-{seed}", cfg, "exception", teacher=None if m == "ft" else "minilm", student=s,
                method=m, seed=seed)
        store.register(j, "x")
        store.mark_done(j.key, {"test_headline": v, "params": params[s]}, 1.0)
    res = write_report(store.path, tmp_path / "report", teacher_meta={"minilm": {"code_specific": False}})
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## exception — teacher minilm (80.0)" in md
    assert "| KD | 45.0 | 61.0 ± 1.4 |" in md  # roberta (1.41M) first, then gru: mean of .60/.62, std 1.41
    assert "| CKD | 70.0 | 72.0 |" in md
    assert "| CKD | 87.5% | 90.0% |" in md  # retention 0.70/0.80, 0.72/0.80
    assert "| KD | +5.0 | +10.0 |" in md  # gain over FT: .45-.40, .61-.51
    assert "KD beats FT at every size** — holds" in md
    assert "Feature-based KD (CKD) is best** — holds" in md
    assert "matches or beats the RoBERTa student of the same size in 3 of 3" in md
    png = Path(res["plots"][0])
    assert png.is_file() and png.stat().st_size > 5000
    csv_text = (tmp_path / "report" / "scores.csv").read_text().splitlines()
    assert csv_text[0].startswith("task,teacher,student,method,seeds,mean,std") and len(csv_text) == 1 + 6


def test_bench_stage_and_report_efficiency(tmp_path, exc_data, bert_teacher):
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, finetune=False, methods={"ft": {}, "kd": {}},
                    students=("gru-1.5m",))
    doc = yaml.safe_load(f.read_text())
    doc["bench"] = {"enabled": True, "seq_len": 32, "repeats": 1, "threads": 1}
    doc["teachers"]["bert"]["code_specific"] = False
    f.write_text(yaml.safe_dump(doc))
    r = run_study(f, progress=False)
    assert r["failed"] == 0
    rows = {b["role"]: b for b in Store(tmp_path / "out" / "study.sqlite").bench_rows()}
    assert set(rows) == {"teacher", "student"}
    t, s = rows["teacher"]["figures"], rows["student"]["figures"]
    assert t["speedup_vs_teacher"] == pytest.approx(1.0) and t["test_headline"] is not None
    assert s["params"] > 0 and s["throughput_b32"] > 0 and s["latency_b1_p50_ms"] > 0 and s["seq_len"] == 32
    assert (tmp_path / "out" / "bench" / "exception.json").is_file()
    from codekd.cli.study import report_cmd  # noqa: F401  (CLI wiring imports)

    res = write_report(tmp_path / "out" / "study.sqlite", tmp_path / "rep")
    md = Path(res["report"]).read_text()
    assert "## Efficiency" in md and "exception:gru-1.5m" in md and "teacher bert" in md


def test_study_caches_pooled_and_token_states_for_pkd_and_ckd(tmp_path, exc_data, bert_teacher):
    methods = {"kd": {}, "pkd": {}, "ckd": {}}
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, methods=methods, teacher_cache_tokens=True)
    spec, root = load_study(f)
    jobs = expand(spec, root)
    cache = next(j for j in jobs if j.kind == "cache")
    # gru-1.5m has 2 layers, the tiny teacher 2: CKD's uniform map reads teacher layers 1 and 2
    assert cache.cache_pooled and cache.cache_token_layers == (1, 2)
    assert all(j.cfg.teacher.cache == cache.out for j in jobs if j.kind == "student")
    # without the opt-in, CKD keeps the live teacher and the cache holds no token states
    plain = expand(*load_study(write_study(tmp_path / "p.yaml", exc_data, bert_teacher, methods=methods)))
    pc = next(j for j in plain if j.kind == "cache")
    assert pc.cache_token_layers == () and pc.key != cache.key
    assert next(j for j in plain if j.method == "ckd").cfg.teacher.cache is None
    res = run_study(f, progress=False)
    assert res["failed"] == 0 and res["done"] == len(jobs)
