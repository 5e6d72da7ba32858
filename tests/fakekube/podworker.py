"""One pod's lifecycle on Docker: sandbox, volumes, init containers, restart loops, probes.

The worker owns its ``ContainerState``s and republishes the pod status after each change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import docker.errors

from . import dockerrt, volumes
from .env import EnvError, resolve_env
from .events import record
from .podstatus import ContainerState, compose
from .probes import run_probe
from .store import now_iso
from .volumes import PodVolumes

if TYPE_CHECKING:
    from .kubelet import Kubelet

log = logging.getLogger("fakekube.kubelet")
POD_KEY = ("", "pods")


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        self.k = kubelet
        self.pod = pod
        meta, spec = pod["metadata"], pod["spec"]
        self.ref = dockerrt.PodRef(
            kubelet.config.cluster_id, meta["namespace"], meta["name"], meta["uid"]
        )
        self.policy = spec.get("restartPolicy", "Always")
        self.task: asyncio.Task[Any] | None = None
        self.terminating = False
        self.sandbox, self.ip, self.host_ip = "", "", ""
        self.started_at = now_iso()
        self.states = [ContainerState(c["name"], c["image"]) for c in spec["containers"]]
        self.init_states = [
            ContainerState(c["name"], c["image"]) for c in spec.get("initContainers") or []
        ]
        self.init_done, self.init_failed = not self.init_states, False
        self.ids: dict[str, list[str]] = {}
        self.volumes = PodVolumes(self.ref)
        self.subtasks: list[asyncio.Task[Any]] = []

    # ---- queries -----------------------------------------------------------------------
    def docker_ids(self, name: str) -> tuple[str | None, str | None]:
        ids = self.ids.get(name, [])
        return (ids[-1] if ids else None, ids[-2] if len(ids) > 1 else None)

    def running_id(self, name: str) -> str | None:
        for st in self.states + self.init_states:
            if st.name == name and "running" in st.state:
                return self.docker_ids(name)[0]
        return None

    # ---- status ------------------------------------------------------------------------
    def publish(self) -> None:
        store = self.k.store
        res = store.kind_of(POD_KEY)
        pod = store.find(res, self.ref.namespace, self.ref.name)
        if pod is None or pod["metadata"]["uid"] != self.ref.uid:
            return
        new = dict(pod)
        new["status"] = compose(
            self.states,
            self.init_states,
            self.init_done,
            self.init_failed,
            self.started_at,
            self.ip,
            self.host_ip,
            pod.get("status") or {},
        )
        store.put_internal(res, new)

    def event(self, reason: str, message: str, warning: bool = False, name: str = "") -> None:
        pod = self.k.store.find(self.k.store.kind_of(POD_KEY), self.ref.namespace, self.ref.name)
        if pod is not None:
            path = f"spec.containers{{{name}}}" if name else ""
            record(
                self.k.store,
                pod,
                reason,
                message,
                "Warning" if warning else "Normal",
                field_path=path,
            )

    # ---- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._sandbox()
            self.publish()
            spec = self.pod["spec"]
            for cspec, st in zip(spec.get("initContainers") or [], self.init_states, strict=True):
                if not await self._loop(cspec, st, init=True):
                    self.init_failed = True
                    self.publish()
                    return
            self.init_done = True
            self.publish()
            self.subtasks = [
                self.k.spawn(self._loop(c, st))
                for c, st in zip(spec["containers"], self.states, strict=True)
            ]
            await asyncio.gather(*self.subtasks)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken pod must not kill the kubelet
            log.exception("pod %s/%s failed", self.ref.namespace, self.ref.name)
            self.event("FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}", True)

    async def _sandbox(self) -> None:
        client = self.k.client
        for vol in self.pod["spec"].get("volumes") or []:
            files = volumes.files_for(self.k.store, self.ref.namespace, vol)
            await self.k.call(self.volumes.materialize, client, vol, files)
        for attempt in range(3):
            try:
                self.sandbox, self.ip, self.host_ip = await self.k.call(
                    dockerrt.run_sandbox, client, self.ref, self.k.config.sandbox_image, attempt
                )
                return
            except docker.errors.APIError as exc:
                # A busy engine sometimes fails a start; clean up and try again like kubelet.
                log.warning("sandbox for %s failed (attempt %d): %s", self.ref.name, attempt, exc)
                if attempt == 2:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))

    async def _loop(self, cspec: dict[str, Any], st: ContainerState, init: bool = False) -> bool:
        """Run one container until it is done for good; True when it ended successfully."""
        failures = 0
        cfg = self.k.config
        while not self.terminating:
            began = time.monotonic()
            code = await self._run_once(cspec, st)
            if code is not None and (
                self.policy == "Never" or (code == 0 and (init or self.policy == "OnFailure"))
            ):
                st.done = True
                self.publish()
                return code == 0
            if time.monotonic() - began > 600:
                failures = 0
            delay = min(cfg.backoff_base * (2**failures), cfg.backoff_cap)
            failures += 1
            if code is not None:
                st.last_state = {"terminated": st.state["terminated"]}
                st.restart_count += 1
                st.state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": (
                            f"back-off {delay:g}s restarting failed container={st.name} "
                            f"pod={self.ref.name}_{self.ref.namespace}({self.ref.uid})"
                        ),
                    }
                }
                self.event(
                    "BackOff",
                    f"Back-off restarting failed container {st.name} in pod "
                    f"{self.ref.name}_{self.ref.namespace}({self.ref.uid})",
                    True,
                    st.name,
                )
            elif st.state.get("waiting", {}).get("reason") == "ErrImagePull":
                st.state = {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{st.image}"',
                    }
                }
                self.event("BackOff", f'Back-off pulling image "{st.image}"', False, st.name)
            self.publish()
            await asyncio.sleep(delay)
        return False

    async def _run_once(self, cspec: dict[str, Any], st: ContainerState) -> int | None:
        """Create, start and wait for one container; None when it could not be created."""
        client, name = self.k.client, cspec["name"]
        iid = await self.k.call(dockerrt.image_id, client, cspec["image"])
        if iid is None:
            self._image_missing(cspec, st)
            return None
        try:
            env = resolve_env(self.k.store, self.pod, cspec, self.ip)
        except EnvError as exc:
            st.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}}
            self.event("Failed", f"Error: {exc}", True, name)
            self.publish()
            return None
        if not self.ids.get(name):
            self.event(
                "Pulled",
                f'Container image "{cspec["image"]}" already present on machine',
                name=name,
            )
        attempt = len(self.ids.get(name, []))
        try:
            cid = await self.k.call(
                dockerrt.create_container,
                client,
                self.ref,
                self.sandbox,
                cspec,
                env,
                attempt,
                self.volumes.binds(cspec),
            )
        except docker.errors.APIError as exc:
            msg = str(exc.explanation or exc)
            st.state = {"waiting": {"reason": "CreateContainerError", "message": msg}}
            self.event("Failed", f"Error: {msg}", True, name)
            self.publish()
            return None
        self._remember(name, cid)
        st.container_id, st.image_id = f"docker://{cid}", f"docker-pullable://{iid}"
        self.event("Created", f"Created container {name}", name=name)
        started = now_iso()
        try:
            await self.k.call(dockerrt.start, client, cid)
        except docker.errors.APIError as exc:
            msg = str(exc.explanation or exc)
            st.state = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": msg,
                    "startedAt": started,
                    "finishedAt": now_iso(),
                    "containerID": st.container_id,
                }
            }
            self.event("Failed", f"Error: {msg}", True, name)
            self.publish()
            return 128
        st.state = {"running": {"startedAt": started}}
        self.event("Started", f"Started container {name}", name=name)
        probe_tasks = self._start_probe(cspec, st, cid)
        self.publish()
        final = await self.k.call_unbounded(dockerrt.wait, client, cid)
        for task in probe_tasks:
            task.cancel()
        st.ready = False
        code = int(final.get("ExitCode", 1))
        reason = "OOMKilled" if final.get("OOMKilled") else ("Completed" if code == 0 else "Error")
        st.state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": now_iso(),
                "containerID": st.container_id,
            }
        }
        self.publish()
        return code

    def _image_missing(self, cspec: dict[str, Any], st: ContainerState) -> None:
        image, policy = cspec["image"], cspec.get("imagePullPolicy", "IfNotPresent")
        if policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            st.state = {"waiting": {"reason": "ErrImageNeverPull", "message": msg}}
        else:
            msg = (
                f'Failed to pull image "{image}": failed to resolve reference "{image}": '
                "no image registry is reachable from the fake cluster"
            )
            if st.state.get("waiting", {}).get("reason") != "ImagePullBackOff":
                st.state = {"waiting": {"reason": "ErrImagePull", "message": msg}}
        self.event("Failed", msg, True, cspec["name"])
        self.publish()

    def _remember(self, name: str, cid: str) -> None:
        ids = self.ids.setdefault(name, [])
        ids.append(cid)
        if len(ids) > 2:
            old = ids.pop(0)
            self.k.spawn(self.k.call(dockerrt.stop_and_remove, self.k.client, [old], 0))

    def _start_probe(
        self, cspec: dict[str, Any], st: ContainerState, cid: str
    ) -> list[asyncio.Task[Any]]:
        """Readiness flips ``ready``; a failed liveness probe kills the container (restart)."""
        name = cspec["name"]

        async def exec_check(cmd: list[str]) -> bool:
            return await self.k.call(dockerrt.exec_check, self.k.client, cid, cmd)

        def set_ready(value: bool) -> None:
            if st.ready != value and "running" in st.state:
                st.ready = value
                self.publish()

        def unhealthy(kind: str) -> Any:
            return lambda: self.event("Unhealthy", f"{kind} probe failed", True, name)

        def set_live(ok: bool) -> None:
            if not ok and "running" in st.state:
                self.event(
                    "Killing",
                    f"Container {name} failed liveness probe, will be restarted",
                    name=name,
                )
                self.k.spawn(self.k.call(dockerrt.stop_and_remove, self.k.client, [cid], 0, False))

        tasks = []
        ready = cspec.get("readinessProbe")
        if ready:
            tasks.append(
                self.k.spawn(
                    run_probe(ready, cspec, self.ip, exec_check, set_ready, unhealthy("Readiness"))
                )
            )
        else:
            st.ready = True
        live = cspec.get("livenessProbe")
        if live:
            tasks.append(
                self.k.spawn(
                    run_probe(live, cspec, self.ip, exec_check, set_live, unhealthy("Liveness"))
                )
            )
        return tasks

    async def terminate(self, finalize: bool) -> None:
        """Stop containers (bounded grace), remove everything, then drop the pod object."""
        self.terminating = True
        for st in self.states:
            if "running" in st.state:
                self.event("Killing", f"Stopping container {st.name}", name=st.name)
        for task in [*self.subtasks, *([self.task] if self.task else [])]:
            task.cancel()
        pod = self.k.store.find(self.k.store.kind_of(POD_KEY), self.ref.namespace, self.ref.name)
        grace = int((pod or {}).get("metadata", {}).get("deletionGracePeriodSeconds", 0) or 0)
        grace = min(grace, self.k.config.grace_cap)
        current = [ids[-1] for ids in self.ids.values() if ids]
        client = self.k.client
        await asyncio.gather(
            *(self.k.call(dockerrt.stop_and_remove, client, [cid], grace) for cid in current)
        )
        await self.k.call(dockerrt.remove_labelled, client, f"fakekube.pod-uid={self.ref.uid}")
        await self.k.call(self.volumes.cleanup)
        self.k.forget(self.ref.uid)
        if finalize and pod is not None and pod["metadata"]["uid"] == self.ref.uid:
            latest = (
                self.k.store.find(self.k.store.kind_of(POD_KEY), self.ref.namespace, self.ref.name)
                or pod
            )
            self.k.store.finalize_delete(self.k.store.kind_of(POD_KEY), latest)
