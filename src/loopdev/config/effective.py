"""The effective configuration as YAML, for ``loopdev validate --print``.

Why mask: the output is meant to be pasted into bug reports and CI logs, so values under
keys named like passwords, tokens or secrets are replaced even though the file is the user's.
"""

from __future__ import annotations

from typing import Any

import yaml

from loopdev.config.problems import is_secret_key

MASK = "********"


def masked(value: Any) -> Any:
    """A copy of ``value`` with every value under a secret-looking key replaced by ``MASK``."""
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(str(k)) else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def effective_yaml(effective: dict[str, Any], file: str, active: tuple[str, ...]) -> str:
    """The merged document as YAML, headed by where it came from and which profiles applied."""
    profiles = ", ".join(active) if active else "none"
    header = f"# effective configuration of {file} (profiles: {profiles})\n"
    body = yaml.safe_dump(masked(effective), sort_keys=False, default_flow_style=False)
    return header + body
