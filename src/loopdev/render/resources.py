"""Resource naming: which loopdev resource each rendered workload belongs to.

A workload is named by the loopfile ``resources`` entry whose ``workload`` is
``<kind lower>/<name>``, else by its ``metadata.name``; if that name is taken (two kinds
share a name, or a loopfile resource already uses it) it becomes ``<name>-<kind lower>``.
"""

from __future__ import annotations

import re
from typing import Any

from loopdev.config.model import Loopfile
from loopdev.errors import ConfigError
from loopdev.render.kinds import WORKLOAD_KINDS


def workload_key(obj: dict[str, Any]) -> str:
    """``deployment/web`` for a Deployment named web."""
    return f"{str(obj.get('kind')).lower()}/{obj['metadata']['name']}"


def workload_resources(config: Loopfile, objects: list[dict[str, Any]]) -> dict[str, str]:
    """Resource name -> ``kind/name`` of its workload, in rendered order."""
    keys = [workload_key(o) for o in objects if o.get("kind") in WORKLOAD_KINDS]
    by_workload = {r.workload.lower(): r.name for r in config.resources.values()}
    _check_declared(config, keys)
    _check_one_namespace(config, objects)
    taken = set(by_workload.values())
    names = [k.split("/", 1)[1] for k in keys if k not in by_workload]
    clashing = {n for n in names if names.count(n) > 1} | (set(names) & taken)
    out: dict[str, str] = {}
    for key in keys:
        if key in by_workload:
            out[by_workload[key]] = key
            continue
        kind, name = key.split("/", 1)
        resource = f"{name}-{kind}" if name in clashing else name
        _check_label_value(config, resource, key)
        out[resource] = key
    return out


_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _check_label_value(config: Loopfile, resource: str, key: str) -> None:
    """The resource name becomes a label value (63 characters, alphanumerics at the ends)."""
    if not _LABEL_VALUE.match(resource):
        raise ConfigError(
            f"{config.path}: workload {key} would be resource {resource!r}, which is not a "
            "valid label value (at most 63 characters: letters, digits, '-', '_', '.')",
            hint=f"name it in the loopfile: resources: {{web: {{workload: {key}}}}}",
        )


def _check_one_namespace(config: Loopfile, objects: list[dict[str, Any]]) -> None:
    """Resources follow workloads by kind and name: one name in two namespaces (two Helm
    releases' own) would make two workloads one resource."""
    seen: dict[str, str] = {}
    for obj in objects:
        if obj.get("kind") not in WORKLOAD_KINDS:
            continue
        key = workload_key(obj)
        namespace = str(obj["metadata"].get("namespace") or config.namespace)
        first = seen.setdefault(key, namespace)
        if first != namespace:
            raise ConfigError(
                f"{config.path}: deploy: workload {key} is rendered in namespaces "
                f"{first} and {namespace}; loopdev "
                "follows a workload by kind and name, expected each name once",
                hint="give the workloads distinct names (e.g. a release-specific nameOverride)",
            )


def _check_declared(config: Loopfile, keys: list[str]) -> None:
    """A loopfile resource whose workload is not rendered is a typo or a stale entry."""
    rendered = set(keys)
    for res in config.resources.values():
        if res.workload.lower() not in rendered:
            shown = ", ".join(keys) or "none"
            raise ConfigError(
                f"{config.path}: resources.{res.name}.workload: {res.workload!r} is not among "
                f"the rendered workloads ({shown})",
                hint="use <kind>/<metadata.name> of a workload the deploy renders",
            )


def resource_by_workload(resources: dict[str, str]) -> dict[str, str]:
    """The inverse: ``kind/name`` -> resource name."""
    return {key: name for name, key in resources.items()}
