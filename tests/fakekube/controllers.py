"""Workload controllers: Deployment -> ReplicaSet -> Pods here; others in ``workloads``.

Level-triggered: any change to a watched kind marks the world dirty and every workload is
reconciled against the store. All writes are idempotent, so the loop settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from datetime import UTC, datetime
from typing import Any

from .common import condition, owner_ref, pod_ready, template_hash
from .errors import ApiError
from .store import Event, Store, random_suffix
from .workloads import reconcile_daemonset, reconcile_job, reconcile_statefulset

log = logging.getLogger("fakekube.controllers")
Obj = dict[str, Any]
WATCHED = {
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("", "pods"),
}


def _progressing(d: Obj, old: list[Obj], rs_name: str, done: bool) -> Obj:
    """Progressing, turning False (ProgressDeadlineExceeded) when a rollout stalls too long."""
    if done:
        return condition(
            old,
            "Progressing",
            True,
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
        )
    prev = next((c for c in old if c.get("type") == "Progressing"), None)
    if (
        prev is not None
        and prev.get("reason") == "ProgressDeadlineExceeded"
        and f'"{rs_name}"' in prev.get("message", "")
    ):
        return prev
    cond = condition(
        old, "Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
    )
    since = datetime.strptime(cond["lastUpdateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    deadline = int(d["spec"].get("progressDeadlineSeconds", 600))
    if (datetime.now(UTC) - since).total_seconds() > deadline:
        return condition(
            old,
            "Progressing",
            False,
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs_name}" has timed out progressing.',
        )
    return cond


class Controllers:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.dirty = asyncio.Event()
        store.listeners.append(self._on_event)

    def _on_event(self, ev: Event) -> None:
        if ev.key in WATCHED:
            self.dirty.set()

    async def run(self) -> None:
        while True:
            # A 1 s tick on top of events lets time-based conditions (progress deadline) fire.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.dirty.wait(), 1.0)
            self.dirty.clear()
            try:
                self.reconcile_all()
            except Exception:  # noqa: BLE001 - keep the controller alive; tests see the log
                log.exception("controller reconcile failed")
            await asyncio.sleep(0.005)

    def res(self, group: str, plural: str) -> Any:
        return self.store.kind_of((group, plural))

    def children(self, group: str, plural: str, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.store.list(self.res(group, plural), owner["metadata"]["namespace"])
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        ]

    def reconcile_all(self) -> None:
        for d in self.store.list(self.res("apps", "deployments"), None):
            self._deployment(d)
        for rs in self.store.list(self.res("apps", "replicasets"), None):
            self._replicaset(rs)
        for sts in self.store.list(self.res("apps", "statefulsets"), None):
            reconcile_statefulset(self, sts)
        for job in self.store.list(self.res("batch", "jobs"), None):
            reconcile_job(self, job)
        for ds in self.store.list(self.res("apps", "daemonsets"), None):
            reconcile_daemonset(self, ds)

    def set_status(self, group: str, plural: str, obj: Obj, status: Obj) -> None:
        if obj.get("status") == status:
            return
        new = dict(obj)
        new["status"] = status
        self.store.put_internal(self.res(group, plural), new)

    def create(self, group: str, plural: str, ns: str, body: Obj) -> None:
        try:
            self.store.create(self.res(group, plural), ns, body)
        except ApiError as exc:
            if exc.code not in (403, 404, 409):
                raise

    # ---- Deployment ----------------------------------------------------------------------
    def _deployment(self, d: Obj) -> None:
        if d["metadata"].get("deletionTimestamp"):
            return
        spec, ns, name = d["spec"], d["metadata"]["namespace"], d["metadata"]["name"]
        want = int(spec.get("replicas", 1))
        h = template_hash(spec["template"])
        rss = self.children("apps", "replicasets", d)
        new_rs = next(
            (r for r in rss if r["metadata"].get("labels", {}).get("pod-template-hash") == h), None
        )
        old_rss = [r for r in rss if r is not new_rs]
        rs_res = self.res("apps", "replicasets")
        if new_rs is None:
            tmpl = copy.deepcopy(spec["template"])
            tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = h
            revs = [
                int(
                    r["metadata"]
                    .get("annotations", {})
                    .get("deployment.kubernetes.io/revision", "0")
                )
                for r in rss
            ]
            self.create(
                "apps",
                "replicasets",
                ns,
                {
                    "metadata": {
                        "name": f"{name}-{h}",
                        "labels": tmpl["metadata"]["labels"],
                        "annotations": {
                            "deployment.kubernetes.io/revision": str(max(revs, default=0) + 1),
                            "deployment.kubernetes.io/desired-replicas": str(want),
                        },
                        "ownerReferences": [owner_ref(d)],
                    },
                    "spec": {"replicas": want, "selector": selector, "template": tmpl},
                },
            )
            return
        if new_rs["spec"].get("replicas") != want:
            self._scale(rs_res, new_rs, want)
        recreate = spec.get("strategy", {}).get("type") == "Recreate"
        new_ready = sum(pod_ready(p) for p in self.children("", "pods", new_rs))
        if recreate or new_ready >= want:
            for r in old_rss:
                if r["spec"].get("replicas", 0) != 0:
                    self._scale(rs_res, r, 0)
        self._deployment_status(d, new_rs, old_rss, want)

    def _scale(self, res: Any, rs: Obj, replicas: int) -> None:
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = replicas
        self.store.put_internal(res, new)

    def _deployment_status(self, d: Obj, new_rs: Obj, old_rss: list[Obj], want: int) -> None:
        new_pods = [
            p
            for p in self.children("", "pods", new_rs)
            if not p["metadata"].get("deletionTimestamp")
        ]
        old_pods = [
            p
            for r in old_rss
            for p in self.children("", "pods", r)
            if not p["metadata"].get("deletionTimestamp")
        ]
        ready = sum(pod_ready(p) for p in new_pods + old_pods)
        total = len(new_pods) + len(old_pods)
        old = (d.get("status") or {}).get("conditions") or []
        done = len(new_pods) == want and not old_pods and sum(map(pod_ready, new_pods)) >= want
        status: Obj = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": len(new_pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(want - ready, 0),
            "conditions": [
                condition(
                    old,
                    "Available",
                    ready >= want,
                    "MinimumReplicasAvailable" if ready >= want else "MinimumReplicasUnavailable",
                    "Deployment has minimum availability."
                    if ready >= want
                    else "Deployment does not have minimum availability.",
                ),
                _progressing(d, old, new_rs["metadata"]["name"], done),
            ],
        }
        for key in (
            "readyReplicas",
            "availableReplicas",
            "updatedReplicas",
            "replicas",
            "unavailableReplicas",
        ):
            if status[key] == 0:
                del status[key]
        self.set_status("apps", "deployments", d, status)

    # ---- ReplicaSet ----------------------------------------------------------------------
    def _replicaset(self, rs: Obj) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            return
        ns, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        want = int(rs["spec"].get("replicas", 1))
        pods = [
            p for p in self.children("", "pods", rs) if not p["metadata"].get("deletionTimestamp")
        ]
        pod_res = self.res("", "pods")
        for _ in range(want - len(pods)):
            tmpl = copy.deepcopy(rs["spec"]["template"])
            meta = tmpl.get("metadata") or {}
            meta.update({"name": f"{name}-{random_suffix()}", "ownerReferences": [owner_ref(rs)]})
            self.create("", "pods", ns, {"metadata": meta, "spec": tmpl["spec"]})
        if len(pods) > want:
            victims = sorted(pods, key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
            for p in victims[: len(pods) - want]:
                self.store.delete(pod_res, ns, p["metadata"]["name"])
        ready = sum(pod_ready(p) for p in pods)
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        self.set_status("apps", "replicasets", rs, status)


__all__ = ["Controllers", "template_hash"]
