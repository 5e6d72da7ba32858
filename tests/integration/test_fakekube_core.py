"""The fake API server through the official client: CRUD, errors, watch, pods, exec, logs."""

from __future__ import annotations

import io
import json
import ssl
import tarfile
import threading

import kubernetes.client as k
import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.stream import stream

from tests.support.wait import wait_for

pytestmark = pytest.mark.docker


def _deployment(name: str, image: str, command: str, **extra: object) -> dict:
    container = {"name": "main", "image": image, "command": ["sh", "-c", command], **extra}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


def _exec(v1: k.CoreV1Api, ns: str, pod: str, cmd: list[str]) -> str:
    """Exec and return stdout; closes the socket (the client leaves it open otherwise)."""
    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        pod,
        ns,
        command=cmd,
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    try:
        resp.run_forever(timeout=10)
        return str(resp.read_stdout())
    finally:
        resp.close()


def _ready_pod(v1: k.CoreV1Api, ns: str, selector: str) -> k.V1Pod:
    def ready() -> k.V1Pod | None:
        for pod in v1.list_namespaced_pod(ns, label_selector=selector).items:
            conds = {c.type: c.status for c in pod.status.conditions or []}
            if conds.get("Ready") == "True" and not pod.metadata.deletion_timestamp:
                return pod
        return None

    return wait_for(ready, 30, what=f"a ready pod {selector}")


def test_crud_errors_are_status_objects(kube_api: k.ApiClient, namespace: str) -> None:
    v1 = k.CoreV1Api(kube_api)
    cm = v1.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    assert cm.metadata.uid and int(cm.metadata.resource_version) > 0
    with pytest.raises(ApiException) as exc:
        v1.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}})
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as exc:
        v1.read_namespaced_config_map("missing", namespace)
    body = json.loads(exc.value.body)
    assert (exc.value.status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    assert body["message"] == 'configmaps "missing" not found'
    with pytest.raises(ApiException) as exc:
        v1.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "c"}})
    assert exc.value.status == 404
    with pytest.raises(ApiException) as exc:
        v1.create_namespaced_config_map(namespace, {"metadata": {"name": "Bad_Name"}})
    assert exc.value.status == 422
    stale = dict(cm.to_dict(), metadata={"name": "c", "resourceVersion": "1"})
    with pytest.raises(ApiException) as exc:
        v1.replace_namespaced_config_map("c", namespace, stale)
    assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "Conflict"


def test_unauthorized_without_token(fake_cluster) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as exc:
        ctx = ssl.create_default_context(cadata=fake_cluster.ca_pem.decode())
        urllib.request.urlopen(f"{fake_cluster.url}/api/v1/namespaces", context=ctx)
    assert exc.value.code == 401
    exc.value.close()


def test_server_side_apply_prunes_and_bumps_generation(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    apps = k.AppsV1Api(kube_api)
    deployments = DynamicClient(kube_api).resources.get(api_version="apps/v1", kind="Deployment")

    def apply(body: dict) -> dict:
        return deployments.server_side_apply(
            body, namespace=namespace, field_manager="loopdev", force_conflicts=True
        ).to_dict()

    dep = _deployment("web", busybox_image, "sleep 3600")
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]
    first = apply(dep)
    assert first["metadata"]["generation"] == 1
    again = apply(dep)
    assert again["metadata"]["generation"] == 1
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "3"}]
    third = apply(dep)
    assert third["metadata"]["generation"] == 2
    live = apps.read_namespaced_deployment("web", namespace)
    env = live.spec.template.spec.containers[0].env
    assert [(e.name, e.value) for e in env] == [("A", "3")]


def test_deployment_rollout_replaces_pods(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1, apps = k.CoreV1Api(kube_api), k.AppsV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, _deployment("app", busybox_image, "sleep 3600"))
    first = _ready_pod(v1, namespace, "app=app")
    assert first.status.pod_ip and first.metadata.labels["pod-template-hash"]
    assert first.metadata.owner_references[0].kind == "ReplicaSet"
    apps.patch_namespaced_deployment(
        "app", namespace, {"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}}
    )

    def rolled() -> bool:
        d = apps.read_namespaced_deployment("app", namespace)
        s = d.status
        return (
            s.observed_generation == d.metadata.generation == 2
            and s.updated_replicas == 1
            and s.replicas == 1
            and s.available_replicas == 1
        )

    wait_for(rolled, 30, what="rollout of generation 2")
    second = _ready_pod(v1, namespace, "app=app")
    assert second.metadata.name != first.metadata.name
    assert second.metadata.labels["pod-template-hash"] != first.metadata.labels["pod-template-hash"]


def test_watch_resumes_from_resource_version(kube_api: k.ApiClient, namespace: str) -> None:
    v1 = k.CoreV1Api(kube_api)
    listed = v1.list_namespaced_config_map(namespace)
    rv = listed.metadata.resource_version
    v1.create_namespaced_config_map(namespace, {"metadata": {"name": "w1", "labels": {"x": "y"}}})
    v1.create_namespaced_config_map(namespace, {"metadata": {"name": "w2"}})
    v1.patch_namespaced_config_map("w1", namespace, {"data": {"k": "v"}})
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        v1.list_namespaced_config_map,
        namespace,
        resource_version=rv,
        label_selector="x=y",
        timeout_seconds=2,
    ):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1")]


def test_exec_with_stdin_tar_and_exit_code(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1, apps = k.CoreV1Api(kube_api), k.AppsV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, _deployment("ex", busybox_image, "sleep 3600"))
    pod = _ready_pod(v1, namespace, "app=ex").metadata.name
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"synced!\n"
        info = tarfile.TarInfo("srv/app.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    payload = buf.getvalue()
    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=["sh", "-c", f"head -c {len(payload)} | tar -x -C / -f -"],
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
        binary=True,
    )
    resp.write_stdin(payload)
    resp.run_forever(timeout=10)
    assert resp.returncode == 0
    resp.close()
    assert _exec(v1, namespace, pod, ["cat", "/srv/app.txt"]) == "synced!\n"
    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=["sh", "-c", "echo oops >&2; exit 3"],
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=10)
    assert resp.returncode == 3
    assert "oops" in resp.read_stderr()
    resp.close()


def test_logs_follow_and_crash_loop_previous(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    pod = {
        "metadata": {"name": "crash"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": busybox_image,
                    "command": ["sh", "-c", "echo run-$(date +%s%N); sleep 0.3; exit 2"],
                }
            ]
        },
    }
    v1.create_namespaced_pod(namespace, pod)

    def crashed_twice() -> k.V1ContainerStatus | None:
        p = v1.read_namespaced_pod("crash", namespace)
        cs = (p.status.container_statuses or [None])[0]
        return cs if cs and cs.restart_count >= 2 else None

    cs = wait_for(crashed_twice, 30, what="two restarts")
    assert cs.last_state.terminated.exit_code == 2
    assert cs.last_state.terminated.reason == "Error"
    previous = v1.read_namespaced_pod_log("crash", namespace, previous=True)
    assert previous.startswith("run-")
    waiting = wait_for(
        lambda: (
            v1.read_namespaced_pod("crash", namespace).status.container_statuses[0].state.waiting
        ),
        30,
        what="a waiting state",
    )
    assert waiting.reason == "CrashLoopBackOff"


def test_logs_follow_streams_lines(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "talker"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "c",
                        "image": busybox_image,
                        "command": ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"],
                    }
                ],
            },
        },
    )
    wait_for(
        lambda: (
            v1.read_namespaced_pod("talker", namespace).status.phase in ("Running", "Succeeded")
        ),
        30,
        what="talker running",
    )
    lines = []
    for line in watch.Watch().stream(v1.read_namespaced_pod_log, "talker", namespace):
        lines.append(line)
    assert lines == ["line1", "line2", "line3"]
    wait_for(
        lambda: v1.read_namespaced_pod("talker", namespace).status.phase == "Succeeded",
        30,
        what="Succeeded phase",
    )


def test_missing_image_never_pull(kube_api: k.ApiClient, namespace: str) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "nope"},
            "spec": {
                "containers": [
                    {"name": "c", "image": "loopdev-test/absent:1", "imagePullPolicy": "Never"}
                ]
            },
        },
    )

    def reason() -> str | None:
        cs = v1.read_namespaced_pod("nope", namespace).status.container_statuses
        reason = cs and cs[0].state.waiting and cs[0].state.waiting.reason
        return None if reason == "ContainerCreating" else reason

    assert wait_for(reason, 20, what="waiting reason") == "ErrImageNeverPull"


def test_namespace_delete_removes_pods_and_containers(
    fake_cluster, kube_api: k.ApiClient, busybox_image: str, docker_client
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespace({"metadata": {"name": "doomed"}})
    v1.create_namespaced_pod(
        "doomed",
        {
            "metadata": {"name": "p"},
            "spec": {
                "containers": [{"name": "c", "image": busybox_image, "command": ["sleep", "3600"]}]
            },
        },
    )
    uid = _ready_pod(v1, "doomed", "").metadata.uid
    v1.delete_namespace("doomed")

    def gone() -> bool:
        try:
            v1.read_namespace("doomed")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, 30, what="namespace removal")
    left = docker_client.containers.list(all=True, filters={"label": f"fakekube.pod-uid={uid}"})
    assert left == []


def test_concurrent_watchers_see_pod_lifecycle(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    events: list[str] = []
    w = watch.Watch()

    def run() -> None:
        for ev in w.stream(v1.list_namespaced_pod, namespace, timeout_seconds=20):
            events.append(ev["type"])
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    v1.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "life"},
            "spec": {
                "containers": [{"name": "c", "image": busybox_image, "command": ["sleep", "3600"]}]
            },
        },
    )
    _ready_pod(v1, namespace, "")
    v1.delete_namespaced_pod("life", namespace, grace_period_seconds=0)
    t.join(25)
    assert events[0] == "ADDED" and events[-1] == "DELETED" and "MODIFIED" in events


def test_compacted_history_gives_410_gone(
    fake_cluster, kube_api: k.ApiClient, namespace: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    old_rv = v1.list_namespaced_config_map(namespace).metadata.resource_version
    v1.create_namespaced_config_map(namespace, {"metadata": {"name": "after"}})
    fake_cluster.compact()
    with pytest.raises(ApiException) as exc:
        for _ in watch.Watch().stream(
            v1.list_namespaced_config_map, namespace, resource_version=old_rv, timeout_seconds=5
        ):
            pass
    assert exc.value.status == 410
    fresh = v1.list_namespaced_config_map(namespace).metadata.resource_version
    seen = [
        ev["object"].metadata.name
        for ev in watch.Watch().stream(
            v1.list_namespaced_config_map, namespace, resource_version=fresh, timeout_seconds=1
        )
    ]
    assert seen == []


def test_log_options_tail_timestamps_since(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "lines"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": busybox_image,
                        "command": [
                            "sh",
                            "-c",
                            "for i in 1 2 3 4 5; do echo l$i; done; sleep 3600",
                        ],
                    }
                ]
            },
        },
    )
    wait_for(
        lambda: (
            v1.read_namespaced_pod_log("lines", namespace).count("\n") == 5
            if v1.read_namespaced_pod("lines", namespace).status.phase == "Running"
            else None
        ),
        30,
        what="five lines",
    )
    assert v1.read_namespaced_pod_log("lines", namespace, tail_lines=2) == "l4\nl5\n"
    stamped = v1.read_namespaced_pod_log("lines", namespace, tail_lines=1, timestamps=True)
    stamp, text = stamped.rstrip("\n").split(" ", 1)
    assert text == "l5" and stamp.endswith("Z") and "T" in stamp
    assert v1.read_namespaced_pod_log("lines", namespace, since_seconds=3600).count("\n") == 5
    assert v1.read_namespaced_pod_log("lines", namespace, limit_bytes=4) == "l1\nl"


def test_extra_kubeconfig_with_chosen_context(fake_cluster, tmp_path, namespace: str) -> None:
    import kubernetes.config

    path = fake_cluster.write_kubeconfig(tmp_path / "kc", "prod-cluster", namespace)
    cfg = k.Configuration()
    kubernetes.config.load_kube_config(str(path), context="prod-cluster", client_configuration=cfg)
    with k.ApiClient(cfg) as api:
        assert k.CoreV1Api(api).read_namespace(namespace).metadata.name == namespace
    contexts, active = kubernetes.config.list_kube_config_contexts(str(path))
    assert active["name"] == "prod-cluster" and active["context"]["namespace"] == namespace
