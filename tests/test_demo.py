"""The demo's study (studies/offline.yaml, full and --quick) and its teacher-vs-baseline verdict."""

from __future__ import annotations

import yaml

from codekd.demo import _study_doc, teacher_verdict
from codekd.study.spec import expand, load_study


def test_demo_study_expands_with_every_student_run_served_by_the_cache(tmp_path, exc_data):
    for quick in (False, True):
        doc = _study_doc(tmp_path / "demo", exc_data, quick)
        f = tmp_path / f"study-{quick}.yaml"
        f.write_text(yaml.safe_dump(doc))
        jobs = expand(*load_study(f))
        kinds = [j.kind for j in jobs]
        assert kinds[:2] == ["teacher", "cache"]
        methods = {j.method for j in jobs if j.kind == "student"}
        assert methods == ({"ft", "kd", "ckd"} if quick else {"ft", "kd", "dist", "pkd", "ckd"})
        assert {j.student for j in jobs if j.kind == "student"} == {"gru-1.5m", "roberta-1.5m"}
        cache = jobs[1]
        # CKD's uniform maps onto MiniLM's 6 layers: gru-1.5m (2 layers) reads 3 and 6, roberta-1.5m
        # (3 layers and its embeddings) reads 0, 2, 4 and 6
        assert cache.cache_token_layers == (0, 2, 3, 4, 6) and cache.cache_pooled == (not quick)
        # no student run needs the live teacher: all of them read the cache (FT reads nothing)
        for j in jobs:
            if j.kind == "student" and j.method != "ft":
                assert j.cfg.teacher.cache == cache.out
        if quick:
            assert jobs[0].cfg.train.epochs == 3 and jobs[0].cfg.fraction == 0.25
            assert all(j.cfg.train.epochs == 2 for j in jobs if j.kind == "student")


def test_teacher_verdict_says_which_side_of_the_baseline_it_is():
    assert "4.0 points better" in teacher_verdict(0.74, 0.70)
    assert "no better than word counts" in teacher_verdict(0.705, 0.70)
    assert "WORSE" in teacher_verdict(0.60, 0.70)
    assert "no test score" in teacher_verdict(None, 0.70)
