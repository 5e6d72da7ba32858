"""Fake cluster behaviour beyond CRUD: port-forward, events, probes, env, jobs, CRDs, restarts."""

from __future__ import annotations

import base64
import socket

import kubernetes.client as k
import pytest
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.stream import portforward, stream

from tests.fakekube import FakeCluster
from tests.support.wait import wait_for

pytestmark = pytest.mark.docker

HTTPD = "mkdir -p /www; echo hello-$HOSTNAME > /www/index.html; exec httpd -f -p 8080 -h /www"


def _pod(name: str, image: str, command: str, **extra: object) -> dict:
    container = {"name": "c", "image": image, "command": ["sh", "-c", command], **extra}
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [container]},
    }


def _cond(v1: k.CoreV1Api, ns: str, name: str, type_: str = "Ready") -> str | None:
    pod = v1.read_namespaced_pod(name, ns)
    return {c.type: c.status for c in pod.status.conditions or []}.get(type_)


def _http_get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def test_port_forward_several_connections(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_pod(namespace, _pod("web", busybox_image, HTTPD))
    wait_for(lambda: _cond(v1, namespace, "web") == "True", 30, what="web ready")
    wait_for(
        lambda: _exec_ok(v1, namespace, "web", ["wget", "-q", "-O-", "127.0.0.1:8080"]),
        10,
        what="httpd listening",
    )
    forwards = [
        portforward(v1.connect_get_namespaced_pod_portforward, "web", namespace, ports="8080")
        for _ in range(3)
    ]
    try:
        bodies = [_http_get(pf.socket(8080)) for pf in forwards]
    finally:
        for pf in forwards:
            pf.close()
    for body in bodies:
        assert body.startswith(b"HTTP/1.") and b"hello-web" in body


def test_port_forward_refused_port_reports_error(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_pod(namespace, _pod("idle", busybox_image, "sleep 3600"))
    wait_for(lambda: _cond(v1, namespace, "idle") == "True", 30, what="idle ready")
    pf = portforward(v1.connect_get_namespaced_pod_portforward, "idle", namespace, ports="9999")
    sock = pf.socket(9999)
    sock.settimeout(10)
    assert sock.recv(100) == b""
    assert "connection refused" in (pf.error(9999) or "")
    pf.close()


def _exec_ok(v1: k.CoreV1Api, ns: str, pod: str, cmd: list[str]) -> bool:
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
        return resp.returncode == 0
    finally:
        resp.close()


def test_lifecycle_events_and_exec_readiness(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}
    v1.create_namespaced_pod(
        namespace, _pod("probed", busybox_image, "sleep 3600", readinessProbe=probe)
    )
    wait_for(
        lambda: v1.read_namespaced_pod("probed", namespace).status.phase == "Running",
        30,
        what="Running",
    )
    assert _cond(v1, namespace, "probed") == "False"
    assert _exec_ok(v1, namespace, "probed", ["touch", "/tmp/ready"])
    wait_for(lambda: _cond(v1, namespace, "probed") == "True", 10, what="probe success")
    events = v1.list_namespaced_event(namespace, field_selector="involvedObject.name=probed")
    reasons = [e.reason for e in events.items]
    assert {"Scheduled", "Pulled", "Created", "Started"} <= set(reasons)
    v1.delete_namespaced_pod("probed", namespace)
    wait_for(
        lambda: "Killing" in [e.reason for e in v1.list_namespaced_event(namespace).items],
        10,
        what="Killing event",
    )


def test_env_from_configmap_secret_and_fields(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_config_map(
        namespace, {"metadata": {"name": "cfg"}, "data": {"MODE": "dev"}}
    )
    v1.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "sec"}, "data": {"token": base64.b64encode(b"s3cret").decode()}},
    )
    env = [
        {"name": "PLAIN", "value": "1"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    pod = _pod(
        "envy",
        busybox_image,
        "echo $PLAIN $MODE $TOKEN $POD $NS; sleep 3600",
        env=env,
        envFrom=[{"configMapRef": {"name": "cfg"}}],
        workingDir="/tmp",
    )
    pod["spec"]["restartPolicy"] = "Never"
    v1.create_namespaced_pod(namespace, pod)
    wait_for(
        lambda: (
            v1.read_namespaced_pod_log("envy", namespace)
            if v1.read_namespaced_pod("envy", namespace).status.phase == "Running"
            else None
        ),
        30,
        what="log output",
    )
    assert v1.read_namespaced_pod_log("envy", namespace) == f"1 dev s3cret envy {namespace}\n"


def test_job_runs_to_completion(
    kube_api: k.ApiClient,
    namespace: str,
    busybox_image: str,
) -> None:
    batch, v1 = k.BatchV1Api(kube_api), k.CoreV1Api(kube_api)
    batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "once"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "c",
                                "image": busybox_image,
                                "command": ["sh", "-c", "echo done"],
                            }
                        ],
                    }
                }
            },
        },
    )

    def complete() -> bool:
        conds = batch.read_namespaced_job("once", namespace).status.conditions or []
        return any(c.type == "Complete" and c.status == "True" for c in conds)

    wait_for(complete, 30, what="job Complete")
    pods = v1.list_namespaced_pod(namespace, label_selector="job-name=once").items
    assert [p.status.phase for p in pods] == ["Succeeded"]
    assert batch.read_namespaced_job("once", namespace).status.succeeded == 1


def test_statefulset_pods_are_ordinal(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    apps, v1 = k.AppsV1Api(kube_api), k.CoreV1Api(kube_api)
    apps.create_namespaced_stateful_set(
        namespace,
        {
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {
                        "containers": [
                            {"name": "c", "image": busybox_image, "command": ["sleep", "3600"]}
                        ]
                    },
                },
            },
        },
    )
    wait_for(
        lambda: apps.read_namespaced_stateful_set("db", namespace).status.ready_replicas == 2,
        30,
        what="2 ready replicas",
    )
    names = sorted(p.metadata.name for p in v1.list_namespaced_pod(namespace).items)
    assert names == ["db-0", "db-1"]


def test_custom_resources_after_crd(kube_api: k.ApiClient, namespace: str) -> None:
    ext = k.ApiextensionsV1Api(kube_api)
    group = f"{namespace}.example.com"
    ext.create_custom_resource_definition(
        {
            "metadata": {"name": f"widgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object"}},
                    }
                ],
            },
        }
    )
    try:
        widgets = DynamicClient(kube_api).resources.get(api_version=f"{group}/v1", kind="Widget")
        widgets.create(
            {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {"size": 3},
            },
            namespace=namespace,
        )
        got = k.CustomObjectsApi(kube_api).get_namespaced_custom_object(
            group, "v1", namespace, "widgets", "w"
        )
        assert got["spec"] == {"size": 3} and got["metadata"]["generation"] == 1
    finally:
        ext.delete_custom_resource_definition(f"widgets.{group}")
    with pytest.raises(ApiException) as exc:
        k.CustomObjectsApi(kube_api).list_namespaced_custom_object(
            group, "v1", namespace, "widgets"
        )
    assert exc.value.status == 404


def test_restart_keeps_state_and_counts_writes(
    fake_cluster: FakeCluster,
    namespace: str,
) -> None:
    api = fake_cluster.api_client()
    v1 = k.CoreV1Api(api)
    try:
        before = fake_cluster.write_count()
        v1.list_namespaced_pod(namespace)
        v1.read_namespace(namespace)
        assert fake_cluster.write_count() == before
        v1.create_namespaced_config_map(namespace, {"metadata": {"name": "keep"}})
        assert fake_cluster.write_count() == before + 1
        port = fake_cluster.port
        fake_cluster.stop()
        with pytest.raises(Exception):  # noqa: B017 - urllib3 raises MaxRetryError subclasses
            v1.read_namespaced_config_map("keep", namespace, _request_timeout=2)
        fake_cluster.start()
        assert fake_cluster.port == port
        assert v1.read_namespaced_config_map("keep", namespace).metadata.name == "keep"
    finally:
        api.close()


def test_multi_container_pod_shares_network_and_empty_dir(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    mount = [{"name": "shared", "mountPath": "/shared"}]
    v1.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "duo"},
            "spec": {
                "volumes": [{"name": "shared", "emptyDir": {}}],
                "initContainers": [
                    {
                        "name": "init",
                        "image": busybox_image,
                        "volumeMounts": mount,
                        "command": ["sh", "-c", "echo from-init > /shared/index.html"],
                    }
                ],
                "containers": [
                    {
                        "name": "server",
                        "image": busybox_image,
                        "volumeMounts": mount,
                        "command": ["httpd", "-f", "-p", "8080", "-h", "/shared"],
                    },
                    {"name": "client", "image": busybox_image, "command": ["sleep", "3600"]},
                ],
            },
        },
    )
    wait_for(lambda: _cond(v1, namespace, "duo") == "True", 30, what="duo ready")
    pod = v1.read_namespaced_pod("duo", namespace)
    assert pod.status.init_container_statuses[0].state.terminated.exit_code == 0
    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        "duo",
        namespace,
        container="client",
        command=["wget", "-q", "-O-", "http://127.0.0.1:8080/index.html"],
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    try:
        resp.run_forever(timeout=10)
        assert resp.read_stdout() == "from-init\n"
    finally:
        resp.close()
    with pytest.raises(ApiException) as exc:
        v1.read_namespaced_pod_log("duo", namespace)
    assert "a container name must be specified" in exc.value.body


def test_failed_liveness_probe_restarts_container(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    probe = {"exec": {"command": ["cat", "/tmp/alive"]}, "periodSeconds": 1, "failureThreshold": 1}
    v1.create_namespaced_pod(
        namespace, _pod("sick", busybox_image, "sleep 3600", livenessProbe=probe)
    )

    def restarted() -> k.V1ContainerStatus | None:
        cs = v1.read_namespaced_pod("sick", namespace).status.container_statuses
        return cs[0] if cs and cs[0].restart_count >= 1 else None

    cs = wait_for(restarted, 30, what="a liveness restart")
    assert cs.last_state.terminated.exit_code == 137
    reasons = {e.reason for e in v1.list_namespaced_event(namespace).items}
    assert {"Unhealthy", "Killing"} <= reasons


def test_stalled_rollout_exceeds_progress_deadline(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    apps = k.AppsV1Api(kube_api)
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "stuck"},
            "spec": {
                "progressDeadlineSeconds": 2,
                "selector": {"matchLabels": {"app": "stuck"}},
                "template": {
                    "metadata": {"labels": {"app": "stuck"}},
                    "spec": {
                        "containers": [
                            {"name": "c", "image": busybox_image, "command": ["sh", "-c", "exit 1"]}
                        ]
                    },
                },
            },
        },
    )

    def progressing() -> k.V1DeploymentCondition | None:
        status = apps.read_namespaced_deployment("stuck", namespace).status
        conds = (status.conditions if status else None) or []
        cond = next((c for c in conds if c.type == "Progressing"), None)
        return cond if cond is not None and cond.status == "False" else None

    cond = wait_for(progressing, 20, what="Progressing=False")
    assert cond.reason == "ProgressDeadlineExceeded"


def test_image_builder_image_runs_as_pod(
    kube_api: k.ApiClient, namespace: str, busybox_image: str, image_builder
) -> None:
    tag = f"loopdev-test/built-{namespace[-6:]}:1"
    image_builder(
        tag,
        f'FROM {busybox_image}\nCOPY msg.txt /msg.txt\nCMD ["sleep", "3600"]\n',
        {"msg.txt": "built-here\n"},
    )
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "built"},
            "spec": {"containers": [{"name": "c", "image": tag, "imagePullPolicy": "Never"}]},
        },
    )
    wait_for(lambda: _cond(v1, namespace, "built") == "True", 30, what="built ready")
    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        "built",
        namespace,
        command=["cat", "/msg.txt"],
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    try:
        resp.run_forever(timeout=10)
        assert resp.read_stdout() == "built-here\n"
    finally:
        resp.close()
    cs = v1.read_namespaced_pod("built", namespace).status.container_statuses[0]
    assert cs.image == tag and cs.image_id.startswith("docker-pullable://sha256:")


def test_missing_command_is_start_error_then_backoff(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "typo"},
            "spec": {
                "containers": [
                    {"name": "c", "image": busybox_image, "command": ["/no/such/binary"]}
                ]
            },
        },
    )

    def last_terminated() -> k.V1ContainerStateTerminated | None:
        cs = v1.read_namespaced_pod("typo", namespace).status.container_statuses
        return cs and cs[0].last_state and cs[0].last_state.terminated

    term = wait_for(last_terminated, 30, what="a failed start")
    assert term.reason == "StartError" and term.exit_code == 128
    assert "no such file" in term.message.lower() or "not found" in term.message.lower()


def test_configmap_and_secret_volumes(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    v1.create_namespaced_config_map(
        namespace, {"metadata": {"name": "files"}, "data": {"app.conf": "port=8080\n"}}
    )
    v1.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "creds"}, "data": {"pw": base64.b64encode(b"hunter2").decode()}},
    )
    pod = _pod(
        "vols",
        busybox_image,
        "cat /etc/app/app.conf /etc/creds/pw; echo; sleep 3600",
        volumeMounts=[
            {"name": "cfg", "mountPath": "/etc/app", "readOnly": True},
            {"name": "sec", "mountPath": "/etc/creds", "readOnly": True},
        ],
    )
    pod["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "files"}},
        {"name": "sec", "secret": {"secretName": "creds"}},
    ]
    v1.create_namespaced_pod(namespace, pod)
    wait_for(lambda: _cond(v1, namespace, "vols") == "True", 30, what="vols ready")
    log = wait_for(
        lambda: (lambda t: t if "hunter2" in t else None)(
            v1.read_namespaced_pod_log("vols", namespace)
        ),
        10,
        what="both files",
    )
    assert log == "port=8080\nhunter2\n"


def test_daemonset_runs_one_pod_on_the_node(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    apps, v1 = k.AppsV1Api(kube_api), k.CoreV1Api(kube_api)
    apps.create_namespaced_daemon_set(
        namespace,
        {
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {
                        "containers": [
                            {"name": "c", "image": busybox_image, "command": ["sleep", "3600"]}
                        ]
                    },
                },
            },
        },
    )
    wait_for(
        lambda: apps.read_namespaced_daemon_set("agent", namespace).status.number_ready == 1,
        30,
        what="agent ready",
    )
    pods = v1.list_namespaced_pod(namespace, label_selector="app=agent").items
    assert len(pods) == 1 and pods[0].metadata.owner_references[0].kind == "DaemonSet"
