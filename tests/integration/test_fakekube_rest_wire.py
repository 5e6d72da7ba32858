"""REST conformance: each fact a real 1.28.7 server showed on the wire, checked on the fake.

Facts and ``flow#seq`` references are from ``shared/kube-wire/SUMMARY.md`` (facts 7-18) and
its ``real-1.28.7/<flow>.jsonl`` records; the expected bodies below are the recorded ones.
These run without the transcripts (``test_wire_replay.py`` replays them when present).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakekube import FakeCluster
from tests.fakekube.replay import Answer, Wire

pytestmark = pytest.mark.docker

JSON = {"Accept": "application/json", "Content-Type": "application/json"}
APPLY = {"Accept": "application/json", "Content-Type": "application/apply-patch+yaml"}
KUBECTL_UA = {"User-Agent": "kubectl.1.32/v1.32.5 (linux/amd64) kubernetes/9894294"}
# kubectl 1.32's protobuf request bodies, byte for byte (kubectl#2, #93, #94)
PB_NAMESPACE = (
    "azhzAAoPCgJ2MRIJTmFtZXNwYWNlEiQKHAoMd2lyZS1rdWJlY3RsEgAaACIAKgAyADgAQgASABoCCgAaACIA"
)
PB_CONFIGMAP = (
    "azhzAAoPCgJ2MRIJQ29uZmlnTWFwEisKIQoFcGItY20SABoMd2lyZS1rdWJlY3Rs"
    "IgAqADIAOABCABIGCgFhEgFiGgAiAA=="
)
PB_SECRET = (
    "azhzAAoMCgJ2MRIGU2VjcmV0EjEKJQoJcGItc2VjcmV0EgAaDHdpcmUta3ViZWN0"
    "bCIAKgAyADgAQgASBgoBaxIBdhoAGgAiAA=="
)
PROTOBUF = {
    "Accept": "application/vnd.kubernetes.protobuf,application/json",
    "Content-Type": "application/vnd.kubernetes.protobuf",
}


class Http:
    def __init__(self, cluster: FakeCluster) -> None:
        ctx = ssl.create_default_context(cadata=cluster.kube.ca_pem.decode())
        self.wire = Wire("127.0.0.1", cluster.port, cluster.kube.token, ctx)

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> Answer:
        raw = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        return self.wire.send(method, path, {**JSON, **(headers or {})}, raw, stream)


def js(ans: Answer) -> Any:
    return json.loads(ans.body)


@pytest.fixture
def http(fake_cluster: FakeCluster) -> Http:
    return Http(fake_cluster)


def cm(ns: str, name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }


def apply(http: Http, path: str, obj: Any, manager: str, force: bool = False) -> Answer:
    q = f"?fieldManager={manager}&fieldValidation=Strict&force={'true' if force else 'false'}"
    return http("PATCH", path + q, obj, APPLY)


# ---- fact 7: server-side apply create -> 201, update -> 200, managedFields ----------------
def test_apply_that_creates_is_201_and_an_update_200(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/web-config"
    created = apply(http, path, cm(namespace, "web-config", greeting="hello"), "kubectl")
    assert created.status == 201  # kubectl#10
    fields = js(created)["metadata"]["managedFields"]
    assert [(f["manager"], f["operation"]) for f in fields] == [("kubectl", "Apply")]
    assert fields[0]["fieldsV1"] == {"f:data": {"f:greeting": {}}}
    again = apply(http, path, cm(namespace, "web-config", greeting="hi"), "kubectl")
    assert again.status == 200  # kubectl#24
    assert js(again)["data"] == {"greeting": "hi"}


# ---- fact 8: conflicts -----------------------------------------------------------------
def test_apply_conflict_is_409_with_the_real_body(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/web-config"
    apply(http, path, cm(namespace, "web-config", greeting="hello"), "kubectl")
    clash = apply(http, path, cm(namespace, "web-config", greeting="changed"), "other")
    assert clash.status == 409
    assert js(clash) == {  # kubectl#29, verbatim
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl": .data.greeting',
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl"',
                    "field": ".data.greeting",
                }
            ]
        },
        "code": 409,
    }
    forced = apply(http, path, cm(namespace, "web-config", greeting="changed"), "other", True)
    assert forced.status == 200
    managers = {f["manager"] for f in js(forced)["metadata"]["managedFields"]}
    assert managers == {"other"}  # the forced field moved; kubectl owned nothing else


def test_same_value_is_shared_and_unchanged_string_data_still_conflicts(
    http: Http, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/shared"
    apply(http, path, cm(namespace, "shared", greeting="hello"), "kubectl")
    same = apply(http, path, cm(namespace, "shared", greeting="hello"), "other")
    assert same.status == 200  # kubectl#27/#28: equal values co-own
    assert {f["manager"] for f in js(same)["metadata"]["managedFields"]} == {"kubectl", "other"}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web-secret", "namespace": namespace},
        "stringData": {"password": "not-a-real-secret"},
        "type": "Opaque",
    }
    spath = f"/api/v1/namespaces/{namespace}/secrets/web-secret"
    assert apply(http, spath, secret, "kubectl").status == 201
    clash = apply(http, spath, secret, "other")
    assert clash.status == 409  # kubectl#30: stringData is folded into data, so it differs
    assert js(clash)["details"]["causes"][0]["field"] == ".stringData.password"


def test_loopdev_applies_with_force_so_a_foreign_manager_never_blocks_it(
    http: Http, namespace: str
) -> None:
    """loopdev's adapter applies with fieldManager=loopdev&force=true (loopdev-get#50/#68)."""
    path = f"/api/v1/namespaces/{namespace}/configmaps/owned"
    http(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps?fieldManager=kubectl-create",
        cm(namespace, "owned", greeting="by-hand"),
    )
    won = apply(http, path, cm(namespace, "owned", greeting="loopdev"), "loopdev", force=True)
    assert won.status == 200 and js(won)["data"] == {"greeting": "loopdev"}


# ---- fact 9: validation --------------------------------------------------------------------
def test_strict_unknown_field_is_400(http: Http, namespace: str) -> None:
    body = {**cm(namespace, "strict-cm", a="b"), "bogusField": 1}
    ans = http(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps?fieldManager=kubectl-create&fieldValidation=Strict",
        body,
    )
    assert ans.status == 400
    assert js(ans)["message"] == (  # kubectl#112
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "bogusField"'
    )
    lax = http("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    assert lax.status == 201  # without Strict the server drops it with a warning


def test_invalid_name_is_422_with_causes(http: Http, namespace: str) -> None:
    ans = http("POST", f"/api/v1/namespaces/{namespace}/configmaps", cm(namespace, "Bad_Name"))
    assert ans.status == 422
    status = js(ans)
    assert (status["reason"], status["details"]["kind"]) == ("Invalid", "ConfigMap")  # #110
    assert status["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"


# ---- fact 10: DELETE answers by kind ---------------------------------------------------------
def test_delete_answers_by_kind(http: Http, fake_cluster: FakeCluster) -> None:
    ns = "wire-rest-delete"
    http("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    base = f"/api/v1/namespaces/{ns}"
    http("POST", f"{base}/configmaps", cm(ns, "c"))
    svc = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    http("POST", f"{base}/services", svc)
    deploy = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "x"}]},
            },
        },
    }
    http("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", deploy)
    gone = js(http("DELETE", f"{base}/configmaps/c"))
    assert gone["kind"] == "Status" and gone["status"] == "Success"  # kubectl#132
    assert set(gone["details"]) == {"name", "kind", "uid"}  # core: no group
    dep = js(http("DELETE", f"/apis/apps/v1/namespaces/{ns}/deployments/web"))
    assert dep["details"]["group"] == "apps" and dep["details"]["kind"] == "deployments"  # #129
    assert js(http("DELETE", f"{base}/services/web"))["kind"] == "Service"  # kubectl#130
    again = http("DELETE", f"{base}/configmaps/c")
    assert again.status == 404  # kubectl#131
    assert js(again)["message"] == 'configmaps "c" not found'
    ns_gone = js(http("DELETE", base))
    assert ns_gone["kind"] == "Namespace"  # kubectl#139
    assert ns_gone["status"]["phase"] == "Terminating"
    assert (
        ns_gone["spec"] == {"finalizers": ["kubernetes"]}
        and "generation" not in ns_gone["metadata"]
    )
    assert ns_gone["metadata"]["labels"] == {"kubernetes.io/metadata.name": ns}


# ---- fact 11: a namespace that does not exist --------------------------------------------------
def test_nonexistent_namespace(http: Http) -> None:
    base = "/api/v1/namespaces/wire-no-such-ns"
    listed = http("GET", f"{base}/pods")
    assert listed.status == 200 and js(listed)["items"] == []  # kubectl#113
    got = http("GET", f"{base}/pods/foo")
    assert got.status == 404 and js(got)["message"] == 'pods "foo" not found'  # kubectl#114
    created = http("POST", f"{base}/configmaps", cm("wire-no-such-ns", "x", a="b"))
    assert created.status == 404  # kubectl#117
    assert js(created)["message"] == 'namespaces "wire-no-such-ns" not found'
    applied = apply(http, f"{base}/configmaps/csa-cm", cm("wire-no-such-ns", "csa-cm"), "kubectl")
    assert applied.status == 404 and js(applied)["details"]["kind"] == "namespaces"  # #119


# ---- facts 12/13: watches and resourceVersions ------------------------------------------------
def test_too_old_watch_is_200_with_one_error_event_then_the_end(http: Http, namespace: str) -> None:
    ans = http("GET", f"/api/v1/namespaces/{namespace}/pods?watch=1&resourceVersion=1")
    assert ans.status == 200  # kubectl#120
    assert ans.headers["content-type"] == "application/json"
    assert "chunked" in ans.headers["transfer-encoding"]
    lines = [json.loads(x) for x in ans.body.splitlines() if x.strip()]  # read to the end
    assert len(lines) == 1 and lines[0]["type"] == "ERROR"
    obj = lines[0]["object"]
    assert (obj["kind"], obj["reason"], obj["code"]) == ("Status", "Expired", 410)
    assert obj["message"].startswith("too old resource version: 1 (")


def test_exact_list_of_a_too_old_version_is_410(http: Http, namespace: str) -> None:
    ans = http(
        "GET",
        f"/api/v1/namespaces/{namespace}/pods?resourceVersion=1&resourceVersionMatch=Exact",
    )
    assert ans.status == 410  # kubectl#122
    assert js(ans)["message"] == "The resourceVersion for the provided list is too old."


# ---- facts 14/15: discovery, ETags, openapi ----------------------------------------------------
KUBECTL_DISCOVERY = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def test_aggregated_discovery_is_v2beta1_with_etag_revalidation(http: Http) -> None:
    for path in ("/api", "/apis"):
        ans = http("GET", path, headers={"Accept": KUBECTL_DISCOVERY})
        assert ans.status == 200  # kubectl#5/#6
        assert ans.headers["content-type"] == (
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        )
        assert js(ans)["kind"] == "APIGroupDiscoveryList"
        again = http(
            "GET", path, headers={"Accept": KUBECTL_DISCOVERY, "If-None-Match": ans.headers["etag"]}
        )
        assert again.status == 304  # kubectl#107/#108
    groups = {
        g["metadata"].get("name")
        for g in js(http("GET", "/apis", headers={"Accept": KUBECTL_DISCOVERY}))["items"]
    }
    assert {"apiregistration.k8s.io", "flowcontrol.apiserver.k8s.io", "node.k8s.io"} <= groups
    v2_only = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    refused = http("GET", "/apis", headers={"Accept": v2_only})
    assert refused.status == 406 and js(refused)["reason"] == "NotAcceptable"  # discovery#6


def test_every_group_version_loopdev_lists_is_served(http: Http) -> None:
    """SUMMARY difference 17: loopdev's down/prune walk these (loopdev-get#10..#53, #2002..)."""
    for gv in (
        "apiregistration.k8s.io/v1", "events.k8s.io/v1", "authentication.k8s.io/v1",
        "authorization.k8s.io/v1", "autoscaling/v1", "certificates.k8s.io/v1",
        "admissionregistration.k8s.io/v1", "node.k8s.io/v1",
        "flowcontrol.apiserver.k8s.io/v1beta2", "flowcontrol.apiserver.k8s.io/v1beta3",
    ):  # fmt: skip
        assert js(http("GET", f"/apis/{gv}"))["kind"] == "APIResourceList", gv
    for path in (
        "/api/v1/namespaces/default/limitranges", "/api/v1/namespaces/default/podtemplates",
        "/api/v1/namespaces/default/replicationcontrollers",
        "/api/v1/namespaces/default/resourcequotas", "/apis/storage.k8s.io/v1/csidrivers",
        "/apis/storage.k8s.io/v1/csinodes", "/apis/storage.k8s.io/v1/volumeattachments",
        "/apis/storage.k8s.io/v1/namespaces/default/csistoragecapacities",
    ):  # fmt: skip
        assert http("GET", path).status == 200, path


def test_unknown_group_is_a_text_404_and_unknown_resource_a_json_one(http: Http) -> None:
    ans = http("GET", "/apis/no.such.group/v1")
    assert ans.status == 404  # discovery#11
    assert ans.headers["content-type"] == "text/plain; charset=utf-8"
    assert ans.body == b"404 page not found\n"
    res = http("GET", "/api/v1/namespaces/default/nosuchresource")
    assert res.status == 404 and js(res)["details"] == {}  # discovery#12
    assert "/apis/apps/v1" in js(http("GET", "/"))["paths"]  # discovery#13


def test_openapi_documents(http: Http) -> None:
    root = http("GET", "/openapi/v3", headers={"Accept": "application/json, */*"})
    assert root.status == 200  # kubectl#3: text/plain, Last-Modified
    assert root.headers["content-type"] == "text/plain; charset=utf-8"
    again = http("GET", "/openapi/v3", headers={"If-Modified-Since": root.headers["last-modified"]})
    assert again.status == 304  # kubectl#21
    v2 = http("GET", "/openapi/v2")
    assert v2.status == 200 and js(v2)["swagger"] == "2.0"  # kubectl#127


# ---- fact 16: protobuf bodies from kubectl 1.32 ------------------------------------------------
@pytest.fixture
def wire_kubectl_ns(http: Http) -> Iterator[str]:
    body = base64.b64decode(PB_NAMESPACE)
    created = http("POST", "/api/v1/namespaces?fieldManager=kubectl-create", body, PROTOBUF)
    assert created.status == 201, created.body  # kubectl#2
    assert js(created)["metadata"]["name"] == "wire-kubectl"  # JSON answer: clients take it
    yield "wire-kubectl"
    http("DELETE", "/api/v1/namespaces/wire-kubectl")


def test_protobuf_typed_creates_are_decoded(http: Http, wire_kubectl_ns: str) -> None:
    base = f"/api/v1/namespaces/{wire_kubectl_ns}"
    q = "?fieldManager=kubectl-create&fieldValidation=Strict"
    made = http("POST", f"{base}/configmaps{q}", base64.b64decode(PB_CONFIGMAP), PROTOBUF)
    assert made.status == 201 and js(made)["data"] == {"a": "b"}  # kubectl#93
    secret = http("POST", f"{base}/secrets{q}", base64.b64decode(PB_SECRET), PROTOBUF)
    assert secret.status == 201  # kubectl#94
    assert base64.b64decode(js(secret)["data"]["k"]) == b"v"
    fields = js(made)["metadata"]["managedFields"]
    assert [(f["manager"], f["operation"]) for f in fields] == [("kubectl-create", "Update")]


def test_protobuf_of_a_kind_the_fake_cannot_decode_is_415(http: Http, namespace: str) -> None:
    ans = http("POST", f"/api/v1/namespaces/{namespace}/pods", b"k8s\x00junk", PROTOBUF)
    assert ans.status == 415 and js(ans)["reason"] == "UnsupportedMediaType"


# ---- fact 17: Accept negotiation ------------------------------------------------------------
def test_accept_negotiation(http: Http) -> None:
    html = http("GET", "/api/v1/namespaces", headers={"Accept": "text/html"})
    assert html.status == 406 and js(html)["reason"] == "NotAcceptable"  # discovery#19
    meta = http(
        "GET",
        "/api/v1/namespaces",
        headers={
            "Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,"
            "application/json"
        },
    )
    body = js(meta)  # discovery#17
    assert body["kind"] == "PartialObjectMetadataList"
    assert {i["kind"] for i in body["items"]} == {"PartialObjectMetadata"}
    assert "spec" not in body["items"][0]


# ---- facts 16/18 with the real kubectl --------------------------------------------------------
def _kubectl(cluster: FakeCluster, *args: str) -> str:
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    proc = subprocess.run(
        ["kubectl", "--context", cluster.context, *args],
        capture_output=True,
        env=env,
        timeout=60,
        text=True,
    )
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def test_kubectl_typed_creates_apply_get_delete(fake_cluster: FakeCluster, tmp_path: Any) -> None:
    """kubectl on PATH (the Cloud SDK dispatcher runs kubectl 1.<server minor>, fact 18)."""
    ns = "wire-rest-kubectl"
    assert "created" in _kubectl(fake_cluster, "create", "namespace", ns)
    try:
        _kubectl(fake_cluster, "-n", ns, "create", "configmap", "pb-cm", "--from-literal=a=b")
        _kubectl(fake_cluster, "-n", ns, "create", "secret", "generic", "pb-secret",
                 "--from-literal=k=v")  # fmt: skip
        manifest = tmp_path / "cm.json"
        manifest.write_text(json.dumps(cm(ns, "web-config", greeting="hello")))
        out = _kubectl(fake_cluster, "apply", "--server-side", "-f", str(manifest))
        assert "configmap/web-config serverside-applied" in out
        got = json.loads(_kubectl(fake_cluster, "-n", ns, "get", "cm", "-o", "json"))
        names = {i["metadata"]["name"] for i in got["items"]}
        assert {"pb-cm", "web-config"} <= names
        secret = json.loads(
            _kubectl(fake_cluster, "-n", ns, "get", "secret", "pb-secret", "-o", "json")
        )
        assert base64.b64decode(secret["data"]["k"]) == b"v"
        assert "deleted" in _kubectl(fake_cluster, "-n", ns, "delete", "cm", "pb-cm")
    finally:
        _kubectl(fake_cluster, "delete", "namespace", ns, "--wait=false")


def test_openapi_v2_as_protobuf_for_kubectl_1_28(http: Http) -> None:
    accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    ans = http("GET", "/openapi/v2", headers={"Accept": accept})
    assert ans.status == 200  # kubectl-dispatcher#6
    assert "protobuf" in ans.headers["content-type"]
    assert ans.body.startswith(b"\n\x032.0")  # field 1 (swagger) = "2.0"


def test_kubectl_1_28_server_side_apply(fake_cluster: FakeCluster, tmp_path: Any) -> None:
    """The dispatcher runs kubectl.1.<server minor> (fact 18); 1.28 fetches /openapi/v2 as
    protobuf before applying (kubectl-dispatcher#6-#11) and sends JSON creates."""
    dispatcher = shutil.which("kubectl")
    assert dispatcher is not None
    kubectl_128 = Path(dispatcher).resolve().parent / "kubectl.1.28"
    env = dict(os.environ, KUBECONFIG=str(fake_cluster.kubeconfig))
    ns = "wire-rest-kubectl-128"
    manifest = tmp_path / "cm.json"
    manifest.write_text(json.dumps(cm(ns, "web-config", greeting="hello")))

    def run(*args: str) -> str:
        proc = subprocess.run(
            [str(kubectl_128), "--context", fake_cluster.context, *args],
            capture_output=True,
            env=env,
            timeout=60,
            text=True,
        )
        assert proc.returncode == 0, f"kubectl.1.28 {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    run("create", "namespace", ns)
    try:
        assert "serverside-applied" in run("apply", "--server-side", "-f", str(manifest))
        assert "web-config" in run("-n", ns, "get", "cm")
    finally:
        run("delete", "namespace", ns, "--wait=false")


def test_api_answers_carry_the_api_servers_headers(http: Http, namespace: str) -> None:
    for ans in (
        http("GET", f"/api/v1/namespaces/{namespace}"),
        http("GET", f"/api/v1/namespaces/{namespace}/pods/nope"),
        http("GET", f"/api/v1/namespaces/{namespace}/pods?watch=1&resourceVersion=1"),
    ):  # fact 17 (kubectl#8, #114, #120)
        assert ans.headers["content-type"] == "application/json"
        assert ans.headers["cache-control"] == "no-cache, private"
        assert ans.headers["audit-id"] and ans.headers["x-kubernetes-pf-flowschema-uid"]


def test_reapply_prunes_what_only_this_manager_owned(http: Http, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/pruned"
    apply(http, path, cm(namespace, "pruned", a="1", b="2", c="3"), "loopdev")
    patched = http(
        "PATCH",
        f"{path}?fieldManager=kubectl-edit",
        {"data": {"b": "changed"}},
        {"Content-Type": "application/merge-patch+json"},
    )
    entries = {(f["manager"], f["operation"]) for f in js(patched)["metadata"]["managedFields"]}
    assert entries == {("loopdev", "Apply"), ("kubectl-edit", "Update")}
    again = apply(http, path, cm(namespace, "pruned", a="1"), "loopdev", force=True)
    assert js(again)["data"] == {"a": "1", "b": "changed"}  # c pruned; b is kubectl-edit's
