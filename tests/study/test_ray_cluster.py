"""A study on a two-node Ray cluster (both nodes on this machine, loopback), one node lost mid-study.

The head and a second node are started with ``ray start ... --block``, each in its own session
(process group) with one CPU, its own node name and free ports; the second node is killed with
SIGKILL (its whole process group: raylet and workers) while it runs a job, and both are stopped by
their own process groups at the end (``ray stop`` would stop every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from codekd.study.runner import run_study
from codekd.study.store import Store

REPO = Path(__file__).resolve().parents[2]
TRAIN = {"max_steps": 4, "epochs": 1, "batch_size": 8, "eval_batch_size": 16, "max_length": 96, "num_threads": 1}


def write_study(path: Path, data: Path, teacher: Path, out: str = "out") -> Path:
    """1 teacher cache, then FT and KD (3 jobs; the two students run at once, one per node)."""
    path.write_text(yaml.safe_dump({
        "name": "tiny", "out": out, "tasks": {"exception": {"data": str(data)}},
        "teachers": {"bert": {"path": str(teacher)}}, "students": ["gru-1.5m"],
        "methods": {"ft": {}, "kd": {}}, "seeds": [1], "train": TRAIN, "bench": {"enabled": False}}))
    return path


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _env(driver: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    if driver:
        # a driver's ray.init resolves 127.0.0.1 to the machine's primary address (by design, STACK-NOTES),
        # where the loopback-bound cluster does not listen; this setting keeps the address as given
        # (the nodes themselves run with --node-ip-address 127.0.0.1, and must not have it: it refuses
        # multi-node clusters)
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env.update(RAY_AUTH_MODE="disabled", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", RAY_USAGE_STATS_ENABLED="0", CUDA_VISIBLE_DEVICES="",
               # a lost node is noticed in about two seconds, not the default half minute
               RAY_health_check_period_ms="500", RAY_health_check_timeout_ms="500",
               RAY_health_check_failure_threshold="3", RAY_health_check_initial_delay_ms="500")
    return env


def _ray_start(name: str, temp: Path, *args: str) -> subprocess.Popen:
    agent, metrics, runtime_env, grpc = _free_ports(4)
    cmd = [str(Path(sys.executable).parent / "ray"), "start", *args, "--num-cpus", "1", "--node-name", name,
           "--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--object-store-memory", str(80 * 1024 * 1024),
           "--dashboard-agent-listen-port", str(agent), "--metrics-export-port", str(metrics),
           "--runtime-env-agent-port", str(runtime_env), "--dashboard-agent-grpc-port", str(grpc), "--block"]
    log = open(temp / f"{name}.log", "w")
    return subprocess.Popen(cmd, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_node(proc: subprocess.Popen) -> None:
    """SIGKILL every process of a node at once, as when its machine goes down: its session (``ray start``
    was started in a new one), not only its process group (Ray's workers run in process groups of their
    own, so a worker outlived a killpg long enough to finish its job and hand the result to the driver)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == proc.pid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _stop(proc: subprocess.Popen) -> None:
    """Stop one node by its own process group: SIGTERM, then SIGKILL what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        if proc.poll() is not None:
            time.sleep(0.5)
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # children that outlived `ray start`
            except ProcessLookupError:
                pass
            break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _wait_started(proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Until ``ray start --block`` says its node is up (it has joined the cluster by then)."""
    deadline = time.time() + timeout
    while "block forever" not in log.read_text():
        assert proc.poll() is None and time.time() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)


def _nodes_alive(address: str) -> int:
    code = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))")
    p = subprocess.run([sys.executable, "-c", code, address], env=_env(driver=True), capture_output=True, text=True, timeout=60)
    return int(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 and p.stdout.strip() else 0


def _still_training(out: str | None) -> bool:
    log = Path(out) / "log.jsonl" if out else None
    if log is None or not log.is_file():
        return False
    events = [line for line in log.read_text().splitlines() if line.strip()]
    return any('"event": "step"' in e for e in events) and not any('"event": "done"' in e for e in events)


def _rows(db: Path) -> list[dict]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as c:
            c.row_factory = sqlite3.Row
            return [dict(r) for r in c.execute("SELECT key, status, node, nodes, out FROM jobs")]
    except sqlite3.OperationalError:
        return []


@pytest.mark.slow
def test_study_on_two_ray_nodes_survives_losing_one(exc_data, bert_teacher, tmp_path):
    pytest.importorskip("ray")
    t0 = time.time()
    temp = Path(tempfile.mkdtemp(prefix="rk", dir="/tmp"))  # Ray's socket paths must stay short
    port, dash_port = _free_ports(2)
    address = f"127.0.0.1:{port}"
    head = _ray_start("head", temp, "--head", "--port", str(port), "--dashboard-port", str(dash_port), "--include-dashboard=false", "--temp-dir", str(temp))
    second = None
    try:
        _wait_started(head, temp / "head.log")
        second = _ray_start("second", temp, "--address", address)
        _wait_started(second, temp / "second.log")
        assert _nodes_alive(address) == 2
        t_up = time.time() - t0
        # a few steps each, so a job is still running when its node goes
        study = write_study(tmp_path / "s.yaml", exc_data, bert_teacher)
        db = tmp_path / "out" / "study.sqlite"
        driver = subprocess.Popen([sys.executable, "-m", "codekd", "study", "run", str(study), "--backend", "ray",
                                   "--address", address, "--no-bench"], env=_env(driver=True), cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        killed_while = None
        deadline = time.time() + 180
        while driver.poll() is None and time.time() < deadline:
            rows = _rows(db)
            # a job the second node is still working on: its row says running there and its own log has no
            # "done" yet (a row can still say running while a finished job's result is on its way to the driver)
            running_there = [r for r in rows if r["status"] == "running" and r["node"] == "second"
                             and _still_training(r["out"])]
            if running_there:
                _kill_node(second)  # the node is lost: raylet, workers and all
                second.wait(timeout=10)
                killed_while = running_there[0]["key"]
                break
            time.sleep(0.1)
        if killed_while is None:
            driver.kill()
            out, _ = driver.communicate(timeout=30)
            pytest.fail(f"the second node never ran a job: {_rows(db)}\n{out[-3000:]}")
        t_kill = time.time() - t0
        out, _ = driver.communicate(timeout=240)
        t_driver = time.time() - t0
        assert driver.returncode == 0, out[-3000:]
    finally:
        for proc in (second, head):
            if proc is not None:
                _stop(proc)

    store = Store(db)
    jobs = store.jobs()
    assert len(jobs) == 3 and all(j["status"] == "done" for j in jobs), [(j["key"], j["status"], j["error"]) for j in jobs]
    by_key = {j["key"]: j for j in jobs}
    lost = by_key[killed_while]
    # the lost job was started on the second node, then again (and finished) on the head, once
    assert lost["nodes"] == ["second", "head"] and lost["node"] == "head" and lost["attempts"] == 2
    assert {n for j in jobs for n in j["nodes"]} == {"head", "second"}  # jobs landed on both nodes
    for j in jobs:
        if j["kind"] == "student":
            events = [json.loads(x)["event"] for x in (Path(j["out"]) / "log.jsonl").read_text().splitlines()]
            assert events.count("done") == 1, (j["key"], events)  # every job finished exactly once
    # the same results as a local run of the same study
    local = write_study(tmp_path / "local.yaml", exc_data, bert_teacher, out="local")
    t_local = time.time()
    r = run_study(local, progress=False, bench=False)
    t_local = time.time() - t_local
    assert r["failed"] == 0
    ref = {(j["kind"], j["method"], j["seed"]): j for j in Store(r["db"]).jobs()}
    for j in jobs:
        if j["kind"] == "student":
            assert j["metrics"]["test"] == ref[(j["kind"], j["method"], j["seed"])]["metrics"]["test"], j["key"]
    print(f"\n[ray] nodes per job: { {j['method'] or j['kind']: (j['seed'], j['nodes']) for j in jobs} }; "
          f"lost while on 'second': {lost['method']} seed {lost['seed']}; seconds: cluster up {t_up:.0f}, "
          f"node killed at {t_kill:.0f}, study done at {t_driver:.0f}, local run {t_local:.0f}")
