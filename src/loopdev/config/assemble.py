"""Turn validated, merged plain data into the frozen model (paths made absolute, defaults filled).

Only called once the schema and semantic checks passed, so it may assume the shapes hold.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loopdev.config.model import (
    BuildSecret,
    BuildSettings,
    CustomBuild,
    Deploy,
    HelmRelease,
    Image,
    ImageKey,
    ImagePath,
    LiveUpdate,
    LocalCommand,
    Loopfile,
    PortForward,
    Probe,
    Resource,
    RunStep,
    SyncRule,
)


def build_model(
    data: dict[str, Any], path: Path, profiles: tuple[str, ...], active: tuple[str, ...]
) -> Loopfile:
    """The ``Loopfile`` for the merged document ``data`` read from ``path``."""
    root = path.parent
    name = data["name"]
    return Loopfile(
        path=path,
        root=root,
        name=name,
        namespace=data.get("namespace", name),
        images={k: _image(k, v, root) for k, v in data.get("images", {}).items()},
        deploy=_deploy(data["deploy"], root, name),
        resources={k: _resource(k, v) for k, v in data.get("resources", {}).items()},
        local={k: _local(k, v, root) for k, v in data.get("local", {}).items()},
        allow_contexts=tuple(data.get("allowContexts", ())),
        build=_build(data.get("build", {})),
        profiles=profiles,
        active_profiles=active,
        version=data["version"],
    )


def _abs(base: Path, relative: str | Path) -> Path:
    """``base/relative`` normalised without touching the disk (``resolve`` stats every part)."""
    return Path(os.path.normpath(base / relative))


def _text(value: Any) -> str:
    """Scalars as the strings Docker and processes receive (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _image(name: str, raw: dict[str, Any], root: Path) -> Image:
    context = _abs(root, raw["context"])
    live = raw.get("live")
    return Image(
        name=name,
        context=context,
        dockerfile=_abs(context, raw.get("dockerfile", "Dockerfile")),
        target=raw.get("target"),
        build_args={k: _text(v) for k, v in raw.get("buildArgs", {}).items()},
        ignore=tuple(raw.get("ignore", ())),
        live=_live(live) if live is not None else None,
        secrets=tuple(_secret(s, root) for s in raw.get("secrets", ())),
        ssh=tuple(_ssh(s, root) for s in raw.get("ssh", ())),
        custom=_custom(raw["custom"]) if "custom" in raw else None,
    )


def _secret(raw: dict[str, Any], root: Path) -> BuildSecret:
    src = raw.get("src")
    return BuildSecret(
        raw["id"], _abs(root, Path(src).expanduser()) if src else None, raw.get("env")
    )


def _ssh(spec: str, root: Path) -> str:
    """``id=path[,path]`` with each path made absolute (relative to the loopfile)."""
    name, eq, paths = spec.partition("=")
    if not eq:
        return spec
    return f"{name}=" + ",".join(str(_abs(root, Path(p).expanduser())) for p in paths.split(","))


def _custom(raw: dict[str, Any]) -> CustomBuild:
    return CustomBuild(cmd=raw["cmd"], deps=tuple(raw.get("deps", ())))


def _live(raw: dict[str, Any]) -> LiveUpdate:
    return LiveUpdate(
        sync=tuple(SyncRule(r["src"], r["dest"]) for r in raw.get("sync", ())),
        run=tuple(RunStep(r["cmd"], tuple(r.get("trigger", ()))) for r in raw.get("run", ())),
        rebuild_on=tuple(raw.get("rebuildOn", ())),
        restart=bool(raw.get("restart", False)),
    )


def _deploy(raw: dict[str, Any], root: Path, project: str) -> Deploy:
    release = raw.get("release")
    source: Path | None = None
    manifests: tuple[str, ...] = ()
    releases: tuple[HelmRelease, ...] = ()
    if "chart" in raw:
        kind, source = "chart", _abs(root, raw["chart"])
    elif "manifests" in raw:
        kind, manifests = "manifests", tuple(raw["manifests"])
    elif "kustomize" in raw:
        kind, source = "kustomize", _abs(root, raw["kustomize"])
    else:
        kind = "helm"
        releases = helm_releases(raw["helm"], root, release or project)
        source = releases[0].chart
        release = releases[0].release
    return Deploy(
        kind=kind,  # type: ignore[arg-type]
        source=source,
        manifests=manifests,
        release=release or project,
        values=raw.get("values", {}),
        values_files=tuple(_abs(root, f) for f in raw.get("valuesFiles", ())),
        image_paths=tuple(ImagePath(p["kind"], p["path"]) for p in raw.get("imagePaths", ())),
        rollout_timeout=float(raw.get("rolloutTimeout", 300)),
        helm=releases if kind == "helm" else (),
    )


def helm_releases(raw: Any, root: Path, first_release: str) -> tuple[HelmRelease, ...]:
    """``deploy.helm`` (a chart directory, one release, or a list) as releases. Unnamed
    releases after the first are named after their chart directory."""
    entries = raw if isinstance(raw, list) else [raw]
    releases = []
    for i, entry in enumerate(entries):
        spec: dict[str, Any] = {"chart": entry} if isinstance(entry, str) else entry
        chart = _abs(root, spec["chart"])
        default = first_release if i == 0 else chart.name
        releases.append(
            HelmRelease(
                chart=chart,
                release=spec.get("release", default),
                values=spec.get("values", {}),
                values_files=tuple(_abs(root, f) for f in spec.get("valuesFiles", ())),
                flags=tuple(spec.get("flags", ())),
                image_keys=image_keys(spec.get("imageKeys", ())),
                namespace=spec.get("namespace"),
            )
        )
    return tuple(releases)


def image_keys(raw: Any) -> tuple[ImageKey, ...]:
    """``imageKeys``: a list of entries, or the short mapping ``{image: values.key}``."""
    if isinstance(raw, dict):
        return tuple(ImageKey(image, key=key) for image, key in raw.items())
    return tuple(ImageKey(e["image"], e.get("key"), e.get("repository"), e.get("tag")) for e in raw)


def port_forward(spec: str | dict[str, Any]) -> PortForward:
    """``"8080:80"``/``"8080:http"`` or ``{local, remote, host, service}`` as a PortForward."""
    if isinstance(spec, str):
        local, remote = spec.split(":", 1)
        return PortForward(int(local), int(remote) if remote.isdigit() else remote)
    return PortForward(
        spec["local"], spec["remote"], spec.get("host", "127.0.0.1"), spec.get("service")
    )


def _resource(name: str, raw: dict[str, Any]) -> Resource:
    kind, _, obj = raw.get("workload", f"deployment/{name}").partition("/")
    return Resource(
        name=name,
        workload=f"{kind.lower()}/{obj}",
        port_forwards=tuple(port_forward(p) for p in raw.get("portForwards", ())),
        depends_on=tuple(raw.get("dependsOn", ())),
        trigger=raw.get("trigger", "auto"),
        labels=tuple(raw.get("labels", ())),
    )


def _local(name: str, raw: dict[str, Any], root: Path) -> LocalCommand:
    probe = raw.get("readiness")
    return LocalCommand(
        name=name,
        cmd=raw.get("cmd"),
        serve=raw.get("serve"),
        deps=tuple(raw.get("deps", ())),
        env={k: _text(v) for k, v in raw.get("env", {}).items()},
        workdir=_abs(root, raw.get("workdir", ".")),
        readiness=_probe(probe) if probe else None,
        depends_on=tuple(raw.get("dependsOn", ())),
        trigger=raw.get("trigger", "auto"),
        labels=tuple(raw.get("labels", ())),
    )


def _probe(raw: dict[str, Any]) -> Probe:
    return Probe(
        http=raw.get("http"),
        tcp=raw.get("tcp"),
        exec=raw.get("exec"),
        period=float(raw.get("period", 1.0)),
        timeout=float(raw.get("timeout", 1.0)),
    )


def _build(raw: dict[str, Any]) -> BuildSettings:
    return BuildSettings(
        delivery=raw.get("delivery", "auto"),
        registry=raw.get("registry"),
        parallel=int(raw.get("parallel", 2)),
        builder=raw.get("builder", "auto"),
    )
