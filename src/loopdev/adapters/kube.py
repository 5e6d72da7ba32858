"""The Kubernetes edge: kubeconfig/context loading and a small async client over the official SDK.

Every blocking SDK call runs in a worker thread; long streams (watches, followed logs) each get
a dedicated daemon thread so they never starve the shared pool. Vendor exceptions become
loopdev errors here, in one place: unreachable server -> ClusterUnreachable, a rejected
request -> DeployError carrying the API's own message.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import json
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
from kubernetes.dynamic.resource import ResourceList
from kubernetes.watch.watch import iter_resp_lines

from loopdev.deploy.watch import WatchExpired
from loopdev.errors import ClusterUnreachable, DeployError, UnknownKind, UsageError

T = TypeVar("T")
FIELD_MANAGER = "loopdev"
CONNECT_TIMEOUT = 5.0  # seconds to open a TCP+TLS connection; a black-holed server fails fast


@dataclass(frozen=True)
class KubeTarget:
    """Which cluster we talk to: the resolved context, its server and default namespace."""

    context: str
    server: str
    namespace: str | None = None
    config_file: str | None = None  # the KUBECONFIG value (may list several files) or None
    # The client configuration loaded while resolving, so the first KubeClient need not load
    # the kubeconfig again (nor run an exec credential plugin again).
    configuration: Any = field(default=None, compare=False, repr=False)


class NotFound(DeployError):
    pass


def resolve_target(context: str | None = None) -> KubeTarget:
    """Read the kubeconfig (``KUBECONFIG`` honoured at call time) and pick the context."""
    config_file = os.environ.get("KUBECONFIG") or None
    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=config_file)
    except (ConfigException, OSError) as err:
        raise UsageError(
            f"no usable kubeconfig ({config_file or '~/.kube/config'}): {err}",
            hint="set KUBECONFIG or create a cluster (kind create cluster, minikube start)",
        ) from err
    by_name = {c["name"]: c for c in contexts}
    name = context or (current or {}).get("name")
    if not name or name not in by_name:
        valid = ", ".join(sorted(by_name)) or "none"
        raise UsageError(f"kube context '{name}' not found", hint=f"known contexts: {valid}")
    api = _new_api_client(config_file, name)
    ctx = by_name[name].get("context") or {}
    cfg = api.configuration
    return KubeTarget(name, cfg.host, ctx.get("namespace"), config_file, configuration=cfg)


def _new_api_client(config_file: str | None, context: str) -> k8s.ApiClient:
    try:
        return k8s_config.new_client_from_config(
            config_file=config_file, context=context, persist_config=False
        )
    except (ConfigException, OSError) as err:
        raise UsageError(f"kube context '{context}' cannot be loaded: {err}") from err


def _translate(err: BaseException, server: str) -> Exception:
    """One place that maps SDK and transport failures to loopdev errors."""
    if isinstance(err, DynamicApiError | ApiException):
        status = getattr(err, "status", 0) or 0
        if status == 0:
            return ClusterUnreachable(
                f"cannot reach the Kubernetes API at {server}: {transport_cause(err)}",
                hint="is the cluster running? loopdev keeps retrying",
            )
        body = getattr(err, "body", None) or getattr(err, "summary", lambda: "")()
        message = _status_message(body) or str(getattr(err, "reason", "")) or str(err)
        cls = NotFound if status == 404 else DeployError
        return cls(f"the API server refused the request ({status}): {message}")
    if isinstance(err, urllib3.exceptions.HTTPError | OSError):
        return ClusterUnreachable(
            f"cannot reach the Kubernetes API at {server}: {transport_cause(err)}",
            hint="is the cluster running? loopdev keeps retrying",
        )
    return err if isinstance(err, Exception) else RuntimeError(str(err))


def _unreachable(where: str, err: BaseException) -> ClusterUnreachable:
    return ClusterUnreachable(
        f"cannot reach {where}: {transport_cause(err)}",
        hint="is the cluster running, and is this the right context? (kubectl cluster-info)",
    )


def _causes(err: BaseException) -> Iterator[BaseException]:
    """``err`` and everything it wraps: urllib3's ``reason``, ``__cause__``, exception args."""
    stack, seen = [err], set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        nested = [getattr(e, "reason", None), e.__cause__, e.__context__, *e.args]
        stack.extend(n for n in reversed(nested) if isinstance(n, BaseException))


def transport_cause(err: BaseException) -> str:
    """Why a connection to the API server failed, in a user's words (pure): connection
    refused, a name that does not resolve, a TLS failure, a timeout. Why: urllib3's own
    text ("MaxRetryError: HTTPSConnectionPool(host=...) Max retries exceeded ...") hides it."""
    causes = list(_causes(err))

    def found(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in causes if isinstance(e, types)), None)

    if found(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return "DNS: the server's host name does not resolve"
    if isinstance(cert := found(ssl.SSLCertVerificationError), ssl.SSLCertVerificationError):
        why = cert.verify_message or cert.reason or "verification failed"
        return f"TLS: the server's certificate is not trusted ({why})"
    if tls := found(ssl.SSLError, urllib3.exceptions.SSLError):
        return f"TLS handshake failed ({_first_line(tls)})"
    if found(ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    # NewConnectionError is a ConnectTimeoutError in urllib3 2: check the causes above first.
    if found(urllib3.exceptions.ConnectTimeoutError):
        return "no answer to the connection attempt (timed out)"
    if found(urllib3.exceptions.ReadTimeoutError, TimeoutError):
        return "the server did not answer in time"
    if found(ConnectionResetError, urllib3.exceptions.ProtocolError):
        return "the connection was closed by the server"
    if isinstance(os_err := found(OSError), OSError) and os_err.strerror:
        return os_err.strerror.lower()
    return _first_line(err) or type(err).__name__


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else ""


def _status_message(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return str(json.loads(body).get("message", "")) if isinstance(body, str) else ""
    except (ValueError, AttributeError):
        return body.strip().splitlines()[0][:300] if isinstance(body, str) and body.strip() else ""


class KubeClient:
    """Dynamic (discovery-driven) access to any kind, plus pod logs and events."""

    def __init__(self, target: KubeTarget, request_timeout: float = 15.0) -> None:
        self.target = target
        self._timeout = request_timeout
        if target.configuration is not None:
            self._api = k8s.ApiClient(configuration=target.configuration)
        else:
            self._api = _new_api_client(target.config_file, target.context)
        self._api.configuration.retries = 0  # we retry with back-off ourselves
        # Every connection attempt has a deadline (reads of followed streams do not): without
        # one, a server that drops packets keeps a request waiting for minutes.
        self._api.rest_client.pool_manager.connection_pool_kw["timeout"] = urllib3.Timeout(
            connect=CONNECT_TIMEOUT, read=None
        )
        self._dyn: DynamicClient | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="loopdev-kube")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._api.close()

    # ---- plumbing ------------------------------------------------------------------------
    async def _call(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn)
        except (DynamicApiError, ApiException, urllib3.exceptions.HTTPError, OSError) as err:
            raise _translate(err, self.target.server) from err

    def _dynamic(self) -> DynamicClient:
        with self._lock:
            if self._dyn is None:
                digest = hashlib.sha256(self.target.server.encode()).hexdigest()[:16]
                cache = Path(platformdirs.user_cache_dir("loopdev")) / f"discovery-{digest}.json"
                cache.parent.mkdir(parents=True, exist_ok=True)
                self._dyn = DynamicClient(self._api, cache_file=str(cache))
            return self._dyn

    def _resource(self, api_version: str, kind: str) -> Any:
        try:
            return self._dynamic().resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as err:
            raise UnknownKind(
                f"the cluster does not serve {kind} ({api_version})",
                hint="is its CustomResourceDefinition installed? check the apiVersion",
            ) from err

    def probe(self, namespace: str, timeout: float = CONNECT_TIMEOUT) -> None:
        """Blocking: one cheap authenticated read (list at most one pod in ``namespace``), so a
        command fails in seconds with the cause instead of waiting out its timeout. Raises
        ClusterUnreachable (refused, DNS, TLS, timeout) or DeployError (401, 403)."""
        where = f"the Kubernetes API at {self.target.server} (context {self.target.context})"
        try:
            resp = self._get(
                "/api/v1/namespaces/{namespace}/pods",
                {"namespace": namespace},
                [("limit", 1)],
                "application/json",
                (timeout, timeout),
            )
        except ApiException as err:
            status = err.status or 0
            if status == 0:
                raise _unreachable(where, err) from err
            message = _status_message(err.body) or str(err.reason or "")
            if status == 401:
                raise DeployError(
                    f"{where} rejected loopdev's credentials (401 Unauthorized): {message}",
                    hint="the kubeconfig's token or client certificate is wrong or expired",
                ) from err
            if status == 403:
                raise DeployError(
                    f"{where} refused to list pods in namespace {namespace} (403 Forbidden):"
                    f" {message}",
                    hint="loopdev needs to read pods and apply objects in that namespace",
                ) from err
            raise DeployError(
                f"{where} does not answer like a Kubernetes API server"
                f" (HTTP {status} to a pod list): {message}",
                hint="check the server address of this context in the kubeconfig",
            ) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise _unreachable(where, err) from err
        if _kind_of(resp.data) != "PodList":  # a 200 from some other web server
            kind = resp.headers.get("content-type") or "no content type"
            raise DeployError(
                f"{where} does not answer like a Kubernetes API server"
                f" (HTTP {resp.status} to a pod list, and no PodList: {kind})",
                hint="check the server address of this context in the kubeconfig",
            )

    def _get(
        self,
        path: str,
        path_params: dict[str, str],
        query: builtins.list[tuple[str, Any]],
        accept: str,
        timeout: Any,
    ) -> Any:
        """Blocking: one GET through the official ApiClient (its auth, TLS and pool), read
        whole; ApiException on a non-2xx answer. Why not ``CoreV1Api``: importing it builds
        ~40 pydantic models, 0.3-0.9 s of every `ci`, for callers that only want the body."""
        method, url, headers, _body, _ = self._api.param_serialize(
            "GET",
            path,
            path_params=path_params,
            query_params=query,
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        resp = self._api.call_api(method, url, headers, _request_timeout=timeout)
        resp.read()
        if not 200 <= resp.status <= 299:
            raise ApiException(http_resp=resp)
        return resp

    # ---- reads and writes ----------------------------------------------------------------
    async def is_namespaced(self, api_version: str, kind: str) -> bool:
        return bool(await self._call(lambda: self._resource(api_version, kind).namespaced))

    async def apply(self, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        """Server-side apply (field manager ``loopdev``, conflicts forced)."""

        def run() -> dict[str, Any]:
            res = self._resource(obj["apiVersion"], obj["kind"])
            path = res.path(name=obj["metadata"]["name"], namespace=namespace)
            out = self._dynamic().request(
                "patch",
                path,
                body=json.dumps(obj),
                content_type="application/apply-patch+yaml",
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                _request_timeout=self._timeout,
            )
            return out.to_dict() if hasattr(out, "to_dict") else dict(out)

        return await self._call(run)

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        def run() -> dict[str, Any]:
            res = self._resource(api_version, kind)
            ns = namespace if res.namespaced else None
            found: dict[str, Any] = res.get(
                name=name, namespace=ns, _request_timeout=self._timeout
            ).to_dict()
            return found

        try:
            return await self._call(run)
        except NotFound:
            return None

    async def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """Items (each with apiVersion/kind set) and the list's resourceVersion."""

        def run() -> tuple[list[dict[str, Any]], str]:
            res = self._resource(api_version, kind)
            ns = namespace if res.namespaced else None
            got = res.get(
                namespace=ns, label_selector=label_selector or None, _request_timeout=self._timeout
            ).to_dict()
            items = [{"apiVersion": api_version, "kind": kind, **i} for i in got.get("items") or []]
            return items, (got.get("metadata") or {}).get("resourceVersion", "")

        try:
            return await self._call(run)
        except NotFound as err:  # the collection is gone: its CRD was just deleted
            raise UnknownKind(f"the cluster no longer serves {kind} ({api_version})") from err

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        """Delete in the background (dependents cascade); False when it was already gone."""

        def run() -> None:
            res = self._resource(api_version, kind)
            ns = namespace if res.namespaced else None
            res.delete(
                name=name,
                namespace=ns,
                propagation_policy="Background",
                _request_timeout=self._timeout,
            )

        try:
            await self._call(run)
        except NotFound:
            return False
        return True

    async def served_kinds(self) -> set[tuple[str, str]]:
        """(apiVersion, kind) of every top-level kind the server lists (for prune and down)."""

        def run() -> set[tuple[str, str]]:
            found = set()
            for res in self._dynamic().resources.search():
                verbs = getattr(res, "verbs", None) or ()
                name = getattr(res, "name", None) or ""
                if isinstance(res, ResourceList) or not name or "/" in name:
                    continue
                if "list" in verbs and "delete" in verbs:
                    found.add((res.group_version, res.kind))
            return found

        return await self._call(run)

    async def read_log(
        self,
        pod: str,
        namespace: str,
        container: str,
        previous: bool = False,
        tail: int = 20,
        timestamps: bool = False,
    ) -> str:
        def run() -> str:
            query = [
                ("container", container),
                ("previous", previous),
                ("tailLines", tail),
                ("timestamps", timestamps),
            ]
            resp = self._get(
                "/api/v1/namespaces/{namespace}/pods/{name}/log",
                {"namespace": namespace, "name": pod},
                query,
                "text/plain",
                self._timeout,
            )
            return bytes(resp.data).decode("utf-8", "replace")

        return await self._call(run)

    async def events(self, namespace: str, name: str) -> builtins.list[dict[str, Any]]:
        """Recent events about one object, oldest first (empty when the server has none)."""
        try:
            items, _ = await self.list("v1", "Event", namespace)
        except DeployError:
            return []
        mine = [e for e in items if _about(e, name)]
        return sorted(mine, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))

    # ---- streams ---------------------------------------------------------------------------
    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str,
        resource_version: str,
        timeout: int = 240,
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events (``{"type", "object"}``); raises WatchExpired on 410 Gone."""

        def path() -> tuple[str, dict[str, Any]]:
            res = self._resource(api_version, kind)
            query = {
                "watch": "true",
                "allowWatchBookmarks": "true",
                "resourceVersion": resource_version,
                "timeoutSeconds": str(timeout),
            }
            if label_selector:
                query["labelSelector"] = label_selector
            return res.path(namespace=namespace if res.namespaced else None), query

        return self._events(self._stream(path, timeout + 30))

    async def _events(self, lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
        async for line in lines:
            if not line:
                continue
            event = json.loads(line)
            if event.get("type") == "ERROR":
                obj = event.get("object") or {}
                if obj.get("code") == 410:
                    raise WatchExpired(obj.get("message", "resource version too old"))
                raise DeployError(f"watch failed: {obj.get('message', obj)}")
            yield event

    def follow_log(
        self,
        pod: str,
        namespace: str,
        container: str,
        since_seconds: int | None = None,
        timestamps: bool = False,
        since_time: str | None = None,
    ) -> AsyncIterator[str]:
        """Lines of one container's log as they are written, until the container stops
        (``timestamps``: each line starts with its RFC 3339 time and a space; ``since_time``:
        an RFC 3339 time, only lines from then on; the API refuses it beside ``since_seconds``)."""

        def path() -> tuple[str, dict[str, Any]]:
            query = {"container": container, "follow": "true"}
            if timestamps:
                query["timestamps"] = "true"
            if since_seconds is not None:
                query["sinceSeconds"] = str(since_seconds)
            elif since_time is not None:
                query["sinceTime"] = since_time
            return f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query

        return self._stream(path, None)

    async def _stream(
        self, where: Callable[[], tuple[str, dict[str, Any]]], read_timeout: float | None
    ) -> AsyncIterator[str]:
        """Run a streaming GET in its own daemon thread, handing lines to the loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        held: dict[str, Any] = {}
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def worker() -> None:
            try:
                for line in self._open_lines(where, read_timeout, held):
                    if stop.is_set():
                        return
                    put("line", line)
                put("end", None)
            except BaseException as err:  # noqa: BLE001 - handed to the reader, re-raised there
                put("error", err)

        threading.Thread(target=worker, daemon=True, name="loopdev-kube-stream").start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    return
                if kind == "error":
                    if isinstance(value, WatchExpired | DeployError):
                        raise value
                    raise _translate(value, self.target.server) from value
                yield value
        finally:
            stop.set()
            resp = held.get("resp")
            if resp is not None:
                with contextlib.suppress(Exception):
                    resp.shutdown()
                with contextlib.suppress(Exception):
                    resp.release_conn()

    def _open_lines(
        self,
        where: Callable[[], tuple[str, dict[str, Any]]],
        read_timeout: float | None,
        held: dict[str, Any],
    ) -> Iterator[str]:
        path, query = where()
        method, url, headers, _body, _ = self._api.param_serialize(
            "GET",
            path,
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        resp = self._api.call_api(method, url, headers, _request_timeout=(5.0, read_timeout))
        held["resp"] = resp.response
        if not 200 <= resp.status <= 299:
            resp.read()
            raise ApiException(http_resp=resp)
        yield from iter_resp_lines(resp.response)


def _kind_of(body: bytes) -> str:
    """The ``kind`` of a JSON object body, or "" (not JSON, not an object)."""
    try:
        found = json.loads(body)
    except ValueError:
        return ""
    return str(found.get("kind", "")) if isinstance(found, dict) else ""


def _about(event: dict[str, Any], name: str) -> bool:
    """An event about the object ``name`` or one of its pods/replica sets (``name-...``)."""
    involved = str((event.get("involvedObject") or {}).get("name", ""))
    return involved == name or involved.startswith(name + "-")
