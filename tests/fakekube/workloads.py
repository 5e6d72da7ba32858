"""StatefulSet, Job and DaemonSet reconciliation (Deployments live in ``controllers``)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .common import condition, owner_ref, pod_ready, template_hash
from .store import now_iso, random_suffix

if TYPE_CHECKING:
    from .controllers import Controllers

Obj = dict[str, Any]


# ---- StatefulSet ---------------------------------------------------------------------
def reconcile_statefulset(ctl: Controllers, sts: Obj) -> None:
    if sts["metadata"].get("deletionTimestamp"):
        return
    spec, ns, name = sts["spec"], sts["metadata"]["namespace"], sts["metadata"]["name"]
    want = int(spec.get("replicas", 1))
    rev = f"{name}-{template_hash(spec['template'])}"
    pods = {p["metadata"]["name"]: p for p in ctl.children("", "pods", sts)}
    pod_res = ctl.res("", "pods")
    busy = any(p["metadata"].get("deletionTimestamp") or not pod_ready(p) for p in pods.values())
    for i in range(want):
        pname = f"{name}-{i}"
        if pname not in pods:
            if busy and spec.get("podManagementPolicy") != "Parallel":
                break
            tmpl = copy.deepcopy(spec["template"])
            meta = tmpl.get("metadata") or {}
            meta.setdefault("labels", {}).update(
                {
                    "controller-revision-hash": rev,
                    "statefulset.kubernetes.io/pod-name": pname,
                    "apps.kubernetes.io/pod-index": str(i),
                }
            )
            meta.update({"name": pname, "ownerReferences": [owner_ref(sts)]})
            pod_spec = dict(tmpl["spec"], hostname=pname)
            if spec.get("serviceName"):
                pod_spec["subdomain"] = spec["serviceName"]
            ctl.create("", "pods", ns, {"metadata": meta, "spec": pod_spec})
            busy = True
    for pname, p in sorted(pods.items(), key=lambda kv: -int(kv[0].rsplit("-", 1)[1])):
        idx = int(pname.rsplit("-", 1)[1])
        outdated = p["metadata"].get("labels", {}).get("controller-revision-hash") != rev
        if p["metadata"].get("deletionTimestamp"):
            continue
        if idx >= want or (outdated and not busy):
            ctl.store.delete(pod_res, ns, pname)
            busy = True
    _sts_status(ctl, sts, pods, rev, want)


def _sts_status(ctl: Controllers, sts: Obj, pods: dict[str, Obj], rev: str, want: int) -> None:
    live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
    updated = [
        p for p in live if p["metadata"].get("labels", {}).get("controller-revision-hash") == rev
    ]
    ready = sum(pod_ready(p) for p in live)
    prev = (sts.get("status") or {}).get("currentRevision", rev)
    current = rev if len(updated) == want else prev
    status: Obj = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(live),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": len(updated) if current == rev else len(live) - len(updated),
        "updatedReplicas": len(updated),
        "currentRevision": current,
        "updateRevision": rev,
        "collisionCount": 0,
    }
    ctl.set_status("apps", "statefulsets", sts, status)


# ---- Job -----------------------------------------------------------------------------
def reconcile_job(ctl: Controllers, job: Obj) -> None:
    if job["metadata"].get("deletionTimestamp"):
        return
    spec, ns, name = job["spec"], job["metadata"]["namespace"], job["metadata"]["name"]
    status = copy.deepcopy(job.get("status") or {})
    conds = status.get("conditions") or []
    if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conds):
        return
    pods = ctl.children("", "pods", job)
    phases = [(p.get("status") or {}).get("phase") for p in pods]
    succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
    active = [
        p
        for p, ph in zip(pods, phases, strict=True)
        if ph not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")
    ]
    completions = int(spec.get("completions", 1))
    status.setdefault("startTime", now_iso())
    status.update(
        {
            "succeeded": succeeded,
            "failed": failed,
            "active": len(active),
            "ready": sum(pod_ready(p) for p in active),
        }
    )
    if succeeded >= completions:
        status["completionTime"] = now_iso()
        status["conditions"] = [condition(conds, "Complete", True, "", "")]
    elif failed > int(spec.get("backoffLimit", 6)):
        status["conditions"] = [
            condition(
                conds,
                "Failed",
                True,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        ]
        for p in active:
            ctl.store.delete(ctl.res("", "pods"), ns, p["metadata"]["name"])
    else:
        room = min(int(spec.get("parallelism", 1)), completions - succeeded) - len(active)
        for _ in range(room):
            tmpl = copy.deepcopy(spec["template"])
            meta = tmpl.get("metadata") or {}
            meta.setdefault("labels", {}).update(
                {
                    "job-name": name,
                    "batch.kubernetes.io/job-name": name,
                    "controller-uid": job["metadata"]["uid"],
                }
            )
            meta.update({"name": f"{name}-{random_suffix()}", "ownerReferences": [owner_ref(job)]})
            ctl.create("", "pods", ns, {"metadata": meta, "spec": tmpl["spec"]})
    for key in [k for k, v in status.items() if v == 0]:
        del status[key]
    ctl.set_status("batch", "jobs", job, status)


# ---- DaemonSet (one node: one pod) ---------------------------------------------------
def reconcile_daemonset(ctl: Controllers, ds: Obj) -> None:
    if ds["metadata"].get("deletionTimestamp"):
        return
    spec, ns, name = ds["spec"], ds["metadata"]["namespace"], ds["metadata"]["name"]
    rev = template_hash(spec["template"])
    pods = [p for p in ctl.children("", "pods", ds) if not p["metadata"].get("deletionTimestamp")]
    current = [
        p for p in pods if p["metadata"].get("labels", {}).get("controller-revision-hash") == rev
    ]
    for p in pods:
        if p not in current or p is not current[0]:
            ctl.store.delete(ctl.res("", "pods"), ns, p["metadata"]["name"])
    if not current:
        tmpl = copy.deepcopy(spec["template"])
        meta = tmpl.get("metadata") or {}
        meta.setdefault("labels", {})["controller-revision-hash"] = rev
        meta.update({"name": f"{name}-{random_suffix()}", "ownerReferences": [owner_ref(ds)]})
        ctl.create("", "pods", ns, {"metadata": meta, "spec": tmpl["spec"]})
    ready = int(bool(current) and pod_ready(current[0]))
    status: Obj = {
        "observedGeneration": ds["metadata"].get("generation", 1),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": int(bool(pods)),
        "updatedNumberScheduled": int(bool(current)),
        "numberReady": ready,
        "numberAvailable": ready,
        "numberMisscheduled": 0,
    }
    ctl.set_status("apps", "daemonsets", ds, status)
