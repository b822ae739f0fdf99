"""The study's remaining-time estimate: analytic job costs, calibrated per kind on finished jobs."""

from __future__ import annotations

import pytest

from codekd.models.students.sizing import flops_per_example, teacher_reference
from codekd.study.eta import FALLBACK_STUDENT_SLOWDOWN, JobCost, StudyEta, format_eta, job_costs
from codekd.study.runner import teacher_bases
from codekd.study.spec import expand, load_study

from study.test_study import write_study


def test_job_costs_follow_the_plan(tmp_path, exc_data, bert_teacher):
    f = write_study(tmp_path / "s.yaml", exc_data, bert_teacher, students=("gru-1.5m",),
                    methods={"ft": {}, "kd": {}, "pkd": {}, "ckd": {}}, train={"epochs": 2, "max_length": 96})
    spec, root = load_study(f)
    jobs = expand(spec, root)
    costs = job_costs(jobs, teacher_bases(spec, root))
    n = 48  # training examples of the exc_data fixture
    tf = teacher_reference(str(bert_teacher), seq_len=96).flops
    sf = flops_per_example("gru-1.5m", 96)
    by = {(j.kind, j.method): costs[j.key] for j in jobs}
    assert by[("teacher", None)].teacher_flops == pytest.approx(3 * n * 2 * tf)
    assert by[("cache", None)].teacher_flops == pytest.approx(n * tf)
    assert by[("student", "ft")] == JobCost(0.0, pytest.approx(3 * n * 2 * sf))
    assert by[("student", "kd")].teacher_flops == 0 and by[("student", "pkd")].teacher_flops == 0  # from the cache
    assert by[("student", "ckd")].teacher_flops == pytest.approx(n * 2 * tf)  # live teacher


def test_eta_calibrates_each_rate_on_finished_jobs():
    costs = {"t": JobCost(100.0, 0.0), "s1": JobCost(0.0, 10.0), "s2": JobCost(50.0, 10.0)}
    eta = StudyEta(costs)
    assert eta.remaining(["t", "s1", "s2"]) is None and format_eta(None) == ""
    eta.observe("t", 20.0)                       # teacher: 0.2 s per unit
    secs, rough = eta.remaining(["s1", "s2"])
    assert rough and secs == pytest.approx(0.2 * 50 + 0.2 * FALLBACK_STUDENT_SLOWDOWN * 20)
    eta.observe("s2", 15.0)                      # 10 s of it is the live teacher: student 0.5 s per unit
    secs, rough = eta.remaining(["s1"])
    assert not rough and secs == pytest.approx(5.0)
    assert format_eta((300.0, False)) == "~5 min left (estimate)"
