"""The demo: its plan (a budget in minutes divided from a measured probe), the study it runs, its verdicts."""

from __future__ import annotations

import yaml

from codekd.demo import (METHOD_ORDER, REQUIRED_METHODS, _study_doc, make_plan, plan_text, student_verdict,
                         teacher_verdict)
from codekd.study.spec import expand, load_study

PROBE = {"cpu": "test CPU", "threads": 2, "precision": "bf16", "teacher_step_s": 0.32, "teacher_first_step_s": 0.4,
         "teacher_forward_s": 0.1, "teacher_freeze": 3, "student_step_s": {"roberta-1.5m": 0.1, "gru-1.5m": 0.12},
         "batch": 32, "train_examples": 20104, "valid_examples": 2513}


def test_plan_divides_the_budget_and_says_what_was_left_out():
    small = make_plan(40, 300, PROBE, quick=False, fraction=None)
    big = make_plan(240, 300, PROBE, quick=False, fraction=None)
    for p in (small, big):
        assert set(REQUIRED_METHODS) <= set(p["methods"])
        assert p["methods"] == [m for m in METHOD_ORDER if m in p["methods"]]
        assert p["left_out"] == [m for m in METHOD_ORDER if m not in p["methods"]]
        runs = len(p["students"]) * len(p["methods"])
        used = 300 + p["teacher_minutes"] * 60 + runs * p["student_minutes"] * 60 + p["estimate"]["cache_s"]
        assert used <= p["minutes"] * 60  # the fixed costs fill the rest
        assert p["estimate"]["total_s"] <= p["minutes"] * 60 + 1
    assert len(big["methods"]) > len(small["methods"]) and big["teacher_minutes"] > small["teacher_minutes"]
    assert big["left_out"] == []
    text = plan_text(small)
    assert "left out for time" in text or not small["left_out"]
    assert "teacher" in text and "students 2 x" in text


def test_demo_study_expands_with_every_student_run_served_by_the_cache(tmp_path, exc_data):
    for quick in (False, True):
        plan = make_plan(8 if quick else 300, 60, PROBE, quick=quick, fraction=0.25 if quick else None)
        doc = _study_doc(tmp_path / "demo", exc_data, plan)
        f = tmp_path / f"study-{quick}.yaml"
        f.write_text(yaml.safe_dump(doc))
        jobs = expand(*load_study(f))
        kinds = [j.kind for j in jobs]
        assert kinds[:2] == ["teacher", "cache"]
        methods = {j.method for j in jobs if j.kind == "student"}
        assert methods == set(plan["methods"])
        assert {j.student for j in jobs if j.kind == "student"} == set(plan["students"])
        assert plan["students"] == (["roberta-1.5m"] if quick else ["roberta-1.5m", "gru-1.5m"])
        cache = jobs[1]
        if "ckd" in plan["methods"]:
            # CKD's uniform maps onto MiniLM's 6 layers: gru-1.5m (2 layers) reads 3 and 6, roberta-1.5m
            # (3 layers and its embeddings) reads 0, 2, 4 and 6
            assert cache.cache_token_layers == (0, 2, 3, 4, 6)
        else:
            assert cache.cache_token_layers == ()
        assert cache.cache_pooled == ("pkd" in plan["methods"])
        for j in jobs:  # no student run needs the live teacher: all of them read the cache (FT reads nothing)
            if j.kind == "student" and j.method != "ft":
                assert j.cfg.teacher.cache == cache.out
        teacher = jobs[0].cfg
        assert teacher.train.minutes == plan["teacher_minutes"] and teacher.teacher.freeze_layers == 3
        assert teacher.train.mixed_precision == "auto"
        assert all(j.cfg.train.minutes == plan["student_minutes"] for j in jobs if j.kind == "student")
        assert (teacher.fraction == 0.25) == quick


def test_teacher_verdict_says_which_side_of_the_baseline_it_is():
    assert "4.0 points better (goal: 3)" in teacher_verdict(0.74, 0.70)
    assert "short of the 3-point goal" in teacher_verdict(0.725, 0.70)
    assert "no better than word counts" in teacher_verdict(0.705, 0.70)
    assert "WORSE" in teacher_verdict(0.60, 0.70)
    assert "no test score" in teacher_verdict(None, 0.70)


def test_student_verdict_names_the_best_student_and_the_goal():
    v = student_verdict({("gru-1.5m", "kd"): 0.65, ("roberta-1.5m", "ft"): 0.5}, 0.70, {"gru-1.5m": 9.0})
    assert "gru-1.5m KD 65.0%" in v and "keeps 92.9%" in v and "meets" in v
    assert "misses" in student_verdict({("gru-1.5m", "kd"): 0.5}, 0.70, {"gru-1.5m": 9.0})
    assert student_verdict({}, 0.7, {}) == "no student finished"
    v = student_verdict({("gru-1.5m", "kd"): 0.17}, 0.17, {"gru-1.5m": 9.0}, majority=0.32)
    assert "misses" in v and "says nothing" in v


def test_speed_probe_times_teacher_and_students_on_real_batches(exc_data, bert_teacher):
    from codekd.demo import speed_probe

    p = speed_probe(exc_data, "structure:try=4", 96, freeze=1, teacher_path=str(bert_teacher))
    assert p["teacher_step_s"] > 0 and p["teacher_forward_s"] > 0 and p["teacher_first_step_s"] > 0
    assert set(p["student_step_s"]) == {"roberta-1.5m", "gru-1.5m"} and min(p["student_step_s"].values()) > 0
    assert p["precision"] in ("no", "bf16") and p["train_examples"] == 48 and p["teacher_freeze"] == 1
    plan = make_plan(10, 30, p, quick=True, fraction=None)
    assert plan["teacher_minutes"] > 0 and plan["student_minutes"] > 0
