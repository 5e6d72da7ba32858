"""The kubelet: one PodWorker per scheduled pod, driven by store events.

Docker calls run in a dedicated thread pool (``Kubelet.call``) so the API loop never blocks
and a container waiting for its exit never starves other work.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import docker

from . import dockerrt
from .events import NODE_NAME, record
from .podworker import PodWorker
from .store import Event, Store

T = TypeVar("T")
POD_KEY = ("", "pods")


@dataclass
class KubeletConfig:
    cluster_id: str
    sandbox_image: str
    backoff_base: float = float(os.environ.get("FAKEKUBE_BACKOFF_BASE", "10"))
    backoff_cap: float = 300.0
    grace_cap: int = int(os.environ.get("FAKEKUBE_GRACE_CAP", "1"))


class Kubelet:
    def __init__(self, store: Store, client: docker.DockerClient, config: KubeletConfig) -> None:
        self.store = store
        self.client = client
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="fakekube-docker")
        self.workers: dict[str, PodWorker] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        store.listeners.append(self._on_event)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def call_unbounded(self, fn: Callable[..., T], *args: Any) -> T:
        """For calls that may block forever (container waits, log follows): a daemon thread,
        so a process that exits without ``close()`` is not held up joining pool workers."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if fut.done():
                return
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

        def run() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(settle, None, exc)
                return
            with contextlib.suppress(RuntimeError):  # loop already closed at shutdown
                loop.call_soon_threadsafe(settle, result, None)

        threading.Thread(target=run, name="fakekube-wait", daemon=True).start()
        return await fut

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _on_event(self, ev: Event) -> None:
        if ev.key != POD_KEY:
            return
        uid = ev.obj["metadata"]["uid"]
        worker = self.workers.get(uid)
        if ev.type == "DELETED":
            if worker is not None:
                self.workers.pop(uid, None)
                self.spawn(worker.terminate(finalize=False))
            return
        if ev.obj["metadata"].get("deletionTimestamp"):
            if worker is not None and not worker.terminating:
                self.spawn(worker.terminate(finalize=True))
            elif worker is None:
                self.store.finalize_delete(self.store.kind_of(POD_KEY), ev.obj)
            return
        if worker is None and ev.type == "ADDED":
            self._schedule(ev.obj)

    def _schedule(self, pod: dict[str, Any]) -> None:
        bound = copy.deepcopy(pod)
        bound["spec"]["nodeName"] = NODE_NAME
        res = self.store.kind_of(POD_KEY)
        bound = self.store.put_internal(res, bound)
        record(
            self.store,
            bound,
            "Scheduled",
            f"Successfully assigned "
            f"{pod['metadata']['namespace']}/{pod['metadata']['name']} to {NODE_NAME}",
            component="default-scheduler",
        )
        worker = PodWorker(self, bound)
        self.workers[bound["metadata"]["uid"]] = worker
        worker.task = self.spawn(worker.run())

    def forget(self, uid: str) -> None:
        self.workers.pop(uid, None)

    def container_ids(self, uid: str, name: str) -> tuple[str | None, str | None]:
        """(current, previous) Docker ids for one k8s container of a pod."""
        worker = self.workers.get(uid)
        if worker is None:
            return None, None
        return worker.docker_ids(name)

    def worker(self, uid: str) -> PodWorker | None:
        return self.workers.get(uid)

    async def shutdown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        label = f"fakekube.cluster={self.config.cluster_id}"
        await self.call(dockerrt.remove_labelled, self.client, label)
        # A create that was already in a worker thread can land after the first sweep.
        self.pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.sleep(0.2)
        await asyncio.to_thread(dockerrt.remove_labelled, self.client, label)
