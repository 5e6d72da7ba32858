"""The root-CA publisher: every namespace gets a ``kube-root-ca.crt`` ConfigMap, as on a real
cluster (kube-controller-manager), so tools see the same automatic objects there."""

from __future__ import annotations

import contextlib
from typing import Any

from .errors import ApiError
from .store import Event, Store

NAME = "kube-root-ca.crt"
NOTE = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)


class RootCaPublisher:
    """A store listener: on a namespace's ADDED event, create its CA ConfigMap."""

    def __init__(self, store: Store, ca_pem: bytes) -> None:
        self.store = store
        self.ca = ca_pem.decode()

    def __call__(self, ev: Event) -> None:
        if ev.key != ("", "namespaces") or ev.type != "ADDED":
            return
        body: dict[str, Any] = {
            "metadata": {"name": NAME, "annotations": {"kubernetes.io/description": NOTE}},
            "data": {"ca.crt": self.ca},
        }
        with contextlib.suppress(ApiError):  # already there, or the namespace is terminating
            self.store.create(
                self.store.kind_of(("", "configmaps")), ev.obj["metadata"]["name"], body
            )
