"""The current kube context name, read from the kubeconfig without talking to any cluster.

Read with pyyaml rather than the kubernetes client: importing the client costs a noticeable
fraction of a second, and only adapters/ may import it. Never fails: no kubeconfig -> None.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def kubeconfig_paths(env: Mapping[str, str]) -> list[Path]:
    """The files kubectl would read, in order: $KUBECONFIG entries, else ~/.kube/config."""
    value = env.get("KUBECONFIG", "")
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    return [Path(env.get("HOME", str(Path.home()))) / ".kube" / "config"]


def current_context(env: Mapping[str, str] | None = None) -> str | None:
    """The first ``current-context`` among the kubeconfig files (kubectl's merge rule)."""
    for path in kubeconfig_paths(os.environ if env is None else env):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        context = data.get("current-context") if isinstance(data, dict) else None
        if isinstance(context, str) and context:
            return context
    return None
