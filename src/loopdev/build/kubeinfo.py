"""Context name and API server URL from the kubeconfig, without importing the kube client.

``loopdev build`` only needs these two strings to choose a delivery; importing the
kubernetes client would cost ~0.7 s, most of a no-op build's budget.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _files(env: Mapping[str, str]) -> list[Path]:
    value = env.get("KUBECONFIG", "")
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    return [Path(env.get("HOME", str(Path.home()))) / ".kube" / "config"]


def _merged(env: Mapping[str, str]) -> dict[str, Any]:
    """kubectl's merge: the first file to set a key (or name an entry) wins."""
    out: dict[str, Any] = {"current-context": None, "contexts": {}, "clusters": {}}
    for path in _files(env):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        out["current-context"] = out["current-context"] or data.get("current-context")
        for key in ("contexts", "clusters"):
            for item in data.get(key) or []:
                if isinstance(item, dict) and item.get("name") not in out[key]:
                    out[key][item.get("name")] = item.get(key[:-1]) or {}
    return out


def kube_target(
    context: str | None, env: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """(context name, server URL); ("", None) when there is no kubeconfig or context."""
    data = _merged(os.environ if env is None else env)
    name = context or data["current-context"] or ""
    ctx = data["contexts"].get(name) or {}
    cluster = data["clusters"].get(ctx.get("cluster")) or {}
    return name, cluster.get("server")
