"""The fake's request log (what traffic tests and bench/ count) and the automatic objects it
puts in every namespace, as a real cluster does."""

from __future__ import annotations

from dataclasses import dataclass

import kubernetes.client
import pytest

from tests.fakekube.requestlog import RequestLog, verb


@dataclass
class Rec:
    method: str
    path: str
    query: str = ""


@pytest.mark.parametrize(
    ("method", "path", "query", "want"),
    [
        ("GET", "/api", "", "discovery"),
        ("GET", "/apis/apps/v1", "", "discovery"),
        ("GET", "/api/v1/namespaces", "", "list"),
        ("GET", "/api/v1/namespaces/dev", "", "get"),
        ("DELETE", "/api/v1/namespaces/dev", "", "delete"),
        ("GET", "/api/v1/namespaces/dev/pods", "labelSelector=a%3Db", "list"),
        ("GET", "/api/v1/namespaces/dev/pods", "watch=true&resourceVersion=5", "watch"),
        ("GET", "/api/v1/namespaces/dev/pods", "watch=1", "watch"),
        ("GET", "/api/v1/namespaces/dev/pods/web-1", "", "get"),
        ("GET", "/api/v1/namespaces/dev/pods/web-1/exec", "command=true", "exec"),
        ("GET", "/api/v1/namespaces/dev/pods/web-1/log", "follow=true", "log"),
        ("GET", "/api/v1/namespaces/dev/pods/web-1/portforward", "ports=80", "portforward"),
        ("PATCH", "/apis/apps/v1/namespaces/dev/deployments/web", "fieldManager=x", "patch"),
        ("PUT", "/apis/apps/v1/namespaces/dev/deployments/web/status", "", "update"),
        ("POST", "/api/v1/namespaces/dev/configmaps", "", "create"),
        ("DELETE", "/api/v1/namespaces/dev/configmaps", "", "deletecollection"),
        ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "", "list"),
        ("GET", "/version", "", "other"),
    ],
)
def test_verb_of_a_request(method: str, path: str, query: str, want: str) -> None:
    assert verb(method, path, query) == want


def test_counts_from_a_mark() -> None:
    log = RequestLog([Rec("GET", "/api")])
    mark = log.mark()
    log += [
        Rec("GET", "/api/v1/pods"),
        Rec("GET", "/api/v1/pods"),
        Rec("DELETE", "/api/v1/nodes/n"),
    ]
    assert log.counter(mark) == {
        ("GET", "/api/v1/pods", ""): 2,
        ("DELETE", "/api/v1/nodes/n", ""): 1,
    }
    assert log.verbs(mark) == {"list": 2, "delete": 1}
    assert log.verbs() == {"discovery": 1, "list": 2, "delete": 1}


@pytest.mark.docker
def test_the_fake_logs_each_request_and_seeds_new_namespaces(fake_cluster, namespace: str) -> None:
    log = fake_cluster.kube.requests
    mark = log.mark()
    with fake_cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        cms = core.list_namespaced_config_map(namespace)
        sas = core.list_namespaced_service_account(namespace)
    assert log.verbs(mark) == {"list": 2}
    assert ("GET", f"/api/v1/namespaces/{namespace}/configmaps", "") in log.counter(mark)
    # Like kube-controller-manager: the root CA ConfigMap and the default ServiceAccount.
    assert [c.metadata.name for c in cms.items] == ["kube-root-ca.crt"]
    assert "BEGIN CERTIFICATE" in cms.items[0].data["ca.crt"]
    assert cms.items[0].metadata.annotations["kubernetes.io/description"].startswith("Contains")
    assert [s.metadata.name for s in sas.items] == ["default"]
