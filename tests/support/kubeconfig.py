"""Write kubeconfig files pointing at a fake (or any) API server with a bearer token."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


def kubeconfig_dict(
    server: str,
    token: str,
    context: str,
    namespace: str | None = None,
    ca_pem: bytes | None = None,
) -> dict[str, object]:
    ctx: dict[str, str] = {"cluster": context, "user": context}
    cluster = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path,
    server: str,
    token: str,
    context: str,
    namespace: str | None = None,
    ca_pem: bytes | None = None,
) -> Path:
    """Write (replace) a one-context kubeconfig at ``path``; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_dict(server, token, context, namespace, ca_pem)))
    path.chmod(0o600)
    return path
