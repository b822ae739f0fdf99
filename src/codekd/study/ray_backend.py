"""Fan a study's jobs out as Ray tasks (one GPU per job where the cluster has GPUs).

The driver submits every job whose dependencies are done, records results in the study database as
they come back, and submits what became ready. Workers run :func:`codekd.study.jobs.execute_job`
on the job they are given; run folders must be on a file system the workers and the driver share
(as on any cluster that trains from shared storage). Works unchanged against a local instance
(``address=None``) and a cluster (``address="ray://host:10001"`` or ``"auto"``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from .jobs import execute_job, job_output_done, ready_to_run, recorded_output, summarise_error
from .spec import Job
from .store import Store


#: how many times a job is resubmitted after its node (or worker process) was lost
MAX_LOST = 3


def _node_name() -> str:
    """This worker's Ray node name (``ray start --node-name``; by default the node's address)."""
    import ray

    me = ray.get_runtime_context().get_node_id()
    for n in ray.nodes():
        if n.get("NodeID") == me:
            return str(n.get("NodeName") or n.get("NodeManagerAddress") or me)
    return me


def _remote_execute(job: Job, db: str | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    node = None
    try:
        node = _node_name()
        if db is not None:  # where it runs, before it runs: a lost node's job is on record
            Store(db).mark_node(job.key, node)
        metrics = execute_job(job, progress=False)
        return {"ok": True, "metrics": metrics, "seconds": time.perf_counter() - t0, "node": node}
    except Exception as exc:
        return {"ok": False, "error": summarise_error(exc), "seconds": time.perf_counter() - t0, "node": node}


def run_ray(jobs: list[Job], store: Store, *, address: str | None = None, retry_failed: bool = True,
            init_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``jobs`` as Ray tasks, spread over the cluster's nodes.

    A job whose node (or worker process) is lost is submitted again, up to :data:`MAX_LOST` times;
    it resumes from its last checkpoint in the shared run folder, so it finishes once. Each job's
    row records the node that ran it (``node``) and every node that started it (``nodes``).
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    started_here = False
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False, "log_to_driver": False, **(init_kwargs or {})}
        if address:
            kwargs["address"] = address
            kwargs.pop("include_dashboard", None)  # a setting of the cluster, not of a driver joining it
        ray.init(**kwargs)
        started_here = True
    gpus = ray.cluster_resources().get("GPU", 0)
    # one GPU per job only where the cluster has GPUs; SPREAD: jobs go to every node, not to the driver's first
    remote = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_retries=0,
                        scheduling_strategy="SPREAD")(_remote_execute)
    db = str(store.path)
    counts = {"done": 0, "failed": 0, "skipped": 0, "ran": 0, "lost": 0, "interrupted": False}
    pending = []
    for job in jobs:
        if job_output_done(job):
            if store.status(job.key) != "done":  # finished, but not recorded
                store.mark_done(job.key, *recorded_output(job))
            counts["skipped"] += 1
            counts["done"] += 1
        elif store.status(job.key) == "failed" and not retry_failed:
            counts["failed"] += 1
        else:
            pending.append(job)
    in_flight: dict[Any, Job] = {}
    lost: dict[str, int] = {}
    try:
        while pending or in_flight:
            still = []
            for job in pending:
                ok, why = ready_to_run(job, store)
                if ok:
                    store.mark_running(job.key)
                    in_flight[remote.remote(job, db)] = job
                elif why and why.startswith("dependency failed"):
                    store.mark_failed(job.key, why, 0.0)
                    counts["failed"] += 1
                else:
                    still.append(job)
            pending = still
            if not in_flight:
                if pending:  # dependencies that can never finish (not in this study)
                    for job in pending:
                        store.mark_failed(job.key, "dependency not in this study", 0.0)
                        counts["failed"] += 1
                    pending = []
                break
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                job = in_flight.pop(ref)
                try:
                    res = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the node or the worker died (the job itself never raises)
                    lost[job.key] = lost.get(job.key, 0) + 1
                    counts["lost"] += 1
                    if lost[job.key] <= MAX_LOST:
                        pending.append(job)  # again, on a node that is alive (it resumes from its checkpoint)
                        continue
                    res = {"ok": False, "seconds": 0.0,
                           "error": f"lost {lost[job.key]} times (node or worker died): {type(exc).__name__}: {exc}"}
                counts["ran"] += 1
                if res["ok"]:
                    store.mark_done(job.key, res["metrics"], res["seconds"])
                    counts["done"] += 1
                else:
                    store.mark_failed(job.key, res["error"], res["seconds"])
                    counts["failed"] += 1
    finally:
        if started_here:
            ray.shutdown()
    return counts
