"""Checks the schema cannot express: globs, references between entries, cycles, ports, paths.

They run on whatever parts of the document are well-typed, so a run reports schema and
semantic problems together. Each returns nothing and adds to ``Problems``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from loopdev.config.problems import Path_, Problems, one_of, report_exactly_one
from loopdev.config.source import Marks

_PORT_SPEC = re.compile(r"^([0-9]+):([0-9]+|[a-z0-9-]+)$")


def check_effective(data: dict[str, Any], marks: Marks, problems: Problems, root: Path) -> None:
    """Semantic checks of the merged configuration (the file plus active profiles)."""
    for path, pattern in _globs(data):
        _check_glob(pattern, path, marks, problems)
    for path, src in _sync_sources(data):
        if src.startswith("/") or ".." in src.split("/"):
            msg = f"{src!r} leaves the image context, expected a path relative to the context"
            problems.add_at(marks.value_at(path), path, msg)
    _check_exclusive(data, marks, problems)
    _check_dependencies(data, marks, problems)
    _check_ports(data, marks, problems)
    _check_paths(data, marks, problems, root)
    _check_helm(data, marks, problems)


def check_profiles(data: dict[str, Any], marks: Marks, problems: Problems) -> None:
    """Checks of every profile, active or not: image names and activation rules."""
    images = _mapping(data.get("images"))
    for name, profile in _mapping(data.get("profiles")).items():
        for image, body in _mapping(_mapping(profile).get("images")).items():
            if image not in images and not (isinstance(body, dict) and "context" in body):
                path: Path_ = ("profiles", name, "images", image)
                known = f"one of {one_of(sorted(images))}" if images else "no images defined"
                msg = f"image '{image}' is not in images, expected {known} (or give it a context)"
                problems.add_at(marks.key_at(path), path, msg)
        for i, rule in enumerate(_items(_mapping(profile).get("activation"))):
            if isinstance(rule, dict) and isinstance(rule.get("matches"), str):
                try:
                    re.compile(rule["matches"])
                except re.error as err:
                    path = ("profiles", name, "activation", i, "matches")
                    msg = f"invalid regular expression ({err}), expected a Python regex"
                    problems.add_at(marks.value_at(path), path, msg)
            if isinstance(rule, dict) and isinstance(rule.get("kubeContext"), str):
                path = ("profiles", name, "activation", i, "kubeContext")
                _check_glob(rule["kubeContext"], path, marks, problems)


def glob_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable glob (an unclosed ``[``), or None when it is fine."""
    if "[" not in pattern:
        return None
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                return f"unbalanced '[' at character {i + 1}"
            i = j
        i += 1
    return None


def _check_glob(pattern: str, path: Path_, marks: Marks, problems: Problems) -> None:
    error = glob_error(pattern)
    if error:
        msg = f"{pattern!r} is not a valid glob ({error}), expected a closed [...] class"
        problems.add_at(marks.value_at(path), path, msg)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    for i, item in enumerate(_items(value)):
        if isinstance(item, str):
            yield (*path, i), item


def _globs(data: dict[str, Any]) -> Iterator[tuple[Path_, str]]:
    yield from _strings(data.get("allowContexts"), ("allowContexts",))
    for name, image in _mapping(data.get("images")).items():
        base: Path_ = ("images", name)
        image = _mapping(image)
        yield from _strings(image.get("ignore"), (*base, "ignore"))
        live = _mapping(image.get("live"))
        yield from _strings(live.get("rebuildOn"), (*base, "live", "rebuildOn"))
        for i, step in enumerate(_items(live.get("run"))):
            trigger = _mapping(step).get("trigger")
            yield from _strings(trigger, (*base, "live", "run", i, "trigger"))
        yield from _image_sync_sources(name, image)
    yield from _strings(_mapping(data.get("deploy")).get("manifests"), ("deploy", "manifests"))
    for name, local in _mapping(data.get("local")).items():
        yield from _strings(_mapping(local).get("deps"), ("local", name, "deps"))


def _sync_sources(data: dict[str, Any]) -> Iterator[tuple[Path_, str]]:
    for name, image in _mapping(data.get("images")).items():
        yield from _image_sync_sources(name, _mapping(image))


def _image_sync_sources(name: str, image: dict[str, Any]) -> Iterator[tuple[Path_, str]]:
    for i, rule in enumerate(_items(_mapping(image.get("live")).get("sync"))):
        src = _mapping(rule).get("src")
        if isinstance(src, str):
            yield ("images", name, "live", "sync", i, "src"), src


DEPLOY_SOURCES = ["chart", "manifests", "kustomize", "helm"]
DOCKERFILE_ONLY = ("dockerfile", "target", "buildArgs", "secrets", "ssh")


def _check_exclusive(data: dict[str, Any], marks: Marks, problems: Problems) -> None:
    """One deploy source, and cmd or serve per local command, after profiles are merged.

    Profiles hold partial entries the schema cannot require these of, so a profile can add a
    second source or a command without either; the merged result is checked here.
    """
    deploy = data.get("deploy")
    if isinstance(deploy, dict):
        report_exactly_one(deploy, DEPLOY_SOURCES, ("deploy",), marks, problems)
    for name, body in _mapping(data.get("local")).items():
        if isinstance(body, dict):
            report_exactly_one(body, ["cmd", "serve"], ("local", name), marks, problems)
    for name, image in _mapping(data.get("images")).items():
        if not isinstance(image, dict) or "custom" not in image:
            continue
        for key in DOCKERFILE_ONLY:
            if key in image:
                path: Path_ = ("images", name, key)
                msg = f"{key} applies to Dockerfile builds; images.{name}.custom builds the image"
                problems.add_at(marks.key_at(path), path, f"{msg}, expected one of the two")


def _check_dependencies(data: dict[str, Any], marks: Marks, problems: Problems) -> None:
    resources, local = _mapping(data.get("resources")), _mapping(data.get("local"))
    for name in sorted(resources.keys() & local.keys()):
        path: Path_ = ("local", name)
        msg = f"'{name}' is also a resource, expected names unique across resources and local"
        problems.add_at(marks.key_at(path), path, msg)
    known = sorted(resources.keys() | local.keys())
    graph: dict[str, list[str]] = {}
    for section, entries in (("resources", resources), ("local", local)):
        for name, body in entries.items():
            deps = _mapping(body).get("dependsOn")
            for path, dep in _strings(deps, (section, name, "dependsOn")):
                if dep == name:
                    msg = "depends on itself, expected other resources or local commands"
                    problems.add_at(marks.value_at(path), path, msg)
                elif dep not in known:
                    expected = f"one of {one_of(known)}" if known else "a resource or local name"
                    msg = f"unknown name '{dep}', expected {expected}"
                    problems.add_at(marks.value_at(path), path, msg)
                else:
                    graph.setdefault(name, []).append(dep)
    _check_cycles(graph, resources, marks, problems)


def _check_cycles(
    graph: dict[str, list[str]], resources: dict[str, Any], marks: Marks, problems: Problems
) -> None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        cycle = list(reversed(err.args[1]))  # graphlib lists dependencies first
        first = cycle[0]
        path: Path_ = ("resources" if first in resources else "local", first, "dependsOn")
        chain = " -> ".join(cycle)
        msg = f"dependsOn cycle: {chain}, expected dependencies without a cycle"
        problems.add_at(marks.value_at(path), path, msg)


def _check_ports(data: dict[str, Any], marks: Marks, problems: Problems) -> None:
    taken: dict[tuple[str, int], str] = {}
    for name, body in _mapping(data.get("resources")).items():
        for i, spec in enumerate(_items(_mapping(body).get("portForwards"))):
            path: Path_ = ("resources", name, "portForwards", i)
            local, host = _local_port(spec, path, marks, problems)
            if local is None:
                continue
            owner = taken.setdefault((host, local), f"resources.{name}.portForwards[{i}]")
            if owner != f"resources.{name}.portForwards[{i}]":
                msg = f"local port {local} is already forwarded by {owner}, expected a free port"
                problems.add_at(marks.value_at(path), path, msg)


def _local_port(spec: Any, path: Path_, marks: Marks, problems: Problems) -> tuple[int | None, str]:
    if isinstance(spec, dict):
        local = spec.get("local")
        host = spec.get("host", "127.0.0.1")
        return (local if isinstance(local, int) else None), str(host)
    match = _PORT_SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        return None, ""
    local_s, remote = match.groups()
    for text in (local_s, remote):
        if text.isdigit() and not 1 <= int(text) <= 65535:
            msg = f"port {text} in {spec!r} is out of range, expected 1-65535"
            problems.add_at(marks.value_at(path), path, msg)
            return None, ""
    return int(local_s), "127.0.0.1"


def _check_paths(data: dict[str, Any], marks: Marks, problems: Problems, root: Path) -> None:
    for name, image in _mapping(data.get("images")).items():
        image = _mapping(image)
        context = image.get("context")
        if not isinstance(context, str):
            continue
        ctx_path: Path_ = ("images", name, "context")
        if not _need(root, context, "directory", ctx_path, marks, problems):
            continue
        dockerfile = image.get("dockerfile", "Dockerfile")
        if isinstance(dockerfile, str) and ("custom" not in image or "dockerfile" in image):
            where = ("images", name, "dockerfile") if "dockerfile" in image else ctx_path
            _need(root / context, dockerfile, "file", where, marks, problems)
    deploy = _mapping(data.get("deploy"))
    for key in ("chart", "kustomize"):
        if isinstance(deploy.get(key), str):
            _need(root, deploy[key], "directory", ("deploy", key), marks, problems)
    for at, release, chart_at in _helm_releases(deploy.get("helm")):
        if isinstance(release.get("chart"), str):
            _need(root, release["chart"], "directory", chart_at, marks, problems)
        for path, file in _strings(release.get("valuesFiles"), (*at, "valuesFiles")):
            _need(root, file, "file", path, marks, problems)
    for path, file in _strings(deploy.get("valuesFiles"), ("deploy", "valuesFiles")):
        _need(root, file, "file", path, marks, problems)
    for name, local in _mapping(data.get("local")).items():
        workdir = _mapping(local).get("workdir")
        if isinstance(workdir, str):
            _need(root, workdir, "directory", ("local", name, "workdir"), marks, problems)


def _helm_releases(helm: Any) -> Iterator[tuple[Path_, dict[str, Any], Path_]]:
    """Each Helm release entry (well-typed ones only): its path, body, and chart's path."""
    base: Path_ = ("deploy", "helm")
    if isinstance(helm, str):
        yield base, {"chart": helm}, base
    elif isinstance(helm, dict):
        yield base, helm, (*base, "chart")
    elif isinstance(helm, list):
        for i, entry in enumerate(helm):
            if isinstance(entry, dict):
                yield (*base, i), entry, (*base, i, "chart")


# `helm template` flags loopdev sets itself, or that would take the objects off stdout.
_HELM_FLAGS_REFUSED = {
    "--namespace": "set the release's namespace key instead",
    "-n": "set the release's namespace key instead",
    "--output-dir": "loopdev reads the rendered objects from helm's output",
}


def _check_helm(data: dict[str, Any], marks: Marks, problems: Problems) -> None:
    """Releases are named once; image keys name loopfile images and one way to set them."""
    images = _mapping(data.get("images"))
    seen: dict[str, Path_] = {}
    deploy = _mapping(data.get("deploy"))
    for i, (at, release, _) in enumerate(_helm_releases(deploy.get("helm"))):
        name = release.get("release")
        if not isinstance(name, str):  # the defaults assemble.helm_releases gives
            first = deploy.get("release") or data.get("name")
            name = first if i == 0 else Path(str(release.get("chart"))).name
            where = at
        else:
            where = (*at, "release")
        if name in seen:
            msg = f"release {name!r} is rendered twice, expected a distinct release name"
            problems.add_at(marks.value_at(where), where, msg)
        seen[str(name)] = at
        for j, flag in enumerate(_items(release.get("flags"))):
            why = _HELM_FLAGS_REFUSED.get(str(flag).split("=", 1)[0])
            if why:
                path = (*at, "flags", j)
                problems.add_at(marks.value_at(path), path, f"{flag!r} cannot be used: {why}")
        keys = release.get("imageKeys")
        entries = (
            [({"image": k, "key": v}, (*at, "imageKeys", k)) for k, v in keys.items()]
            if isinstance(keys, dict)
            else [(e, (*at, "imageKeys", j)) for j, e in enumerate(_items(keys))]
        )
        for entry, path in entries:
            if not isinstance(entry, dict):
                continue
            image = entry.get("image")
            if isinstance(image, str) and image not in images:
                known = f"one of {one_of(sorted(images))}" if images else "no images defined"
                where = path if isinstance(keys, dict) else (*path, "image")
                msg = f"image '{image}' is not in images, expected {known}"
                problems.add_at(
                    marks.key_at(where) if isinstance(keys, dict) else marks.value_at(where),
                    where,
                    msg,
                )
            if not isinstance(keys, dict):
                present = {k: v for k, v in entry.items() if k in ("key", "repository")}
                report_exactly_one(present, ["key", "repository"], path, marks, problems)


def _need(
    base: Path, written: str, kind: str, path: Path_, marks: Marks, problems: Problems
) -> bool:
    """Whether ``base/written`` is an existing ``kind``; else a problem naming both forms."""
    target = base / written
    ok = target.is_dir() if kind == "directory" else target.is_file()
    if not ok:
        state = f"is not a {kind}" if target.exists() else "does not exist"
        msg = f"{written!r} {state} (looked at {target}), expected an existing {kind}"
        problems.add_at(marks.value_at(path), path, msg)
    return ok
