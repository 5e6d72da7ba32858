"""pods/log options on the fake as a real server applies them: ``sinceTime`` (RFC 3339),
``tailLines`` and a since filter together (the kubelet takes the last N lines, then drops
those older than since), and ValidatePodLogOptions' refusals (422)."""

from __future__ import annotations

import json

import kubernetes.client as k
import pytest

from tests.support.wait import wait_for

pytestmark = pytest.mark.docker


def raw_log(api: k.ApiClient, ns: str, pod: str, **query: str) -> tuple[int, str]:
    """GET pods/log with any query (the Python client has no ``sinceTime`` parameter)."""
    method, url, headers, _body, _ = api.param_serialize(
        "GET",
        f"/api/v1/namespaces/{ns}/pods/{pod}/log",
        query_params=list(query.items()),
        auth_settings=["BearerToken"],
    )
    resp = api.call_api(method, url, headers)
    resp.read()
    if not 200 <= resp.status <= 299:
        raise k.ApiException(http_resp=resp)
    return resp.status, resp.data.decode()


def test_since_time_and_tail_lines_apply_together(
    kube_api: k.ApiClient, namespace: str, busybox_image: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    script = "for i in 1 2 3; do echo old$i; done; sleep 2; for i in 1 2 3; do echo new$i; done"
    container = {
        "name": "c",
        "image": busybox_image,
        "command": ["sh", "-c", script + "; sleep 3600"],
    }
    v1.create_namespaced_pod(
        namespace, {"metadata": {"name": "two"}, "spec": {"containers": [container]}}
    )

    def six_lines() -> bool | None:
        try:
            return raw_log(kube_api, namespace, "two")[1].count("\n") == 6 or None
        except k.ApiException:  # not started yet
            return None

    wait_for(six_lines, 30, what="6 lines")
    _, stamped = raw_log(kube_api, namespace, "two", timestamps="true")
    stamps = dict(reversed(line.split(" ", 1)) for line in stamped.splitlines())
    whole_second = stamps["new1"].split(".")[0].rstrip("Z") + "Z"  # after old3: 2 s apart

    assert raw_log(kube_api, namespace, "two", sinceTime=whole_second) == (
        200,
        "new1\nnew2\nnew3\n",
    )
    assert raw_log(kube_api, namespace, "two", sinceTime=stamps["new2"])[1] == "new2\nnew3\n"
    # The last 4 lines are old3 new1 new2 new3; since drops old3.
    assert raw_log(kube_api, namespace, "two", sinceTime=whole_second, tailLines="4")[1] == (
        "new1\nnew2\nnew3\n"
    )
    assert raw_log(kube_api, namespace, "two", sinceTime=whole_second, tailLines="2")[1] == (
        "new2\nnew3\n"
    )
    assert raw_log(kube_api, namespace, "two", tailLines="0")[1] == ""
    assert raw_log(kube_api, namespace, "two", sinceTime="2999-01-01T00:00:00Z")[1] == ""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sinceSeconds": "10", "sinceTime": "2026-01-01T00:00:00Z"}, "at most one of"),
        ({"sinceSeconds": "0"}, "sinceSeconds: Invalid value: 0: must be greater than 0"),
        ({"tailLines": "-1"}, "tailLines: Invalid value: -1"),
        ({"limitBytes": "0"}, "limitBytes: Invalid value: 0: must be greater than 0"),
    ],
)
def test_invalid_log_options_are_refused_like_the_api_server(
    kube_api: k.ApiClient, namespace: str, busybox_image: str, query: dict[str, str], message: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    container = {"name": "c", "image": busybox_image, "command": ["sleep", "3600"]}
    v1.create_namespaced_pod(
        namespace, {"metadata": {"name": "p"}, "spec": {"containers": [container]}}
    )
    wait_for(
        lambda: v1.read_namespaced_pod("p", namespace).status.phase == "Running" or None,
        30,
        what="running",
    )
    with pytest.raises(k.ApiException) as caught:
        raw_log(kube_api, namespace, "p", **query)
    assert caught.value.status == 422
    body = json.loads(caught.value.body)
    assert body["reason"] == "Invalid" and message in body["message"]
    assert body["message"].startswith('PodLogOptions "p" is invalid: ')
