"""``render_objects``: THE code path from a loopfile's ``deploy`` block to objects to apply.

``loopdev up`` applies exactly this list and ``loopdev render`` prints exactly this list.
It blocks (file reads, subprocesses for kustomize/helm): async callers use
``asyncio.to_thread(render_objects, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loopdev.config.model import HelmRelease, Loopfile
from loopdev.config.namespaces import release_namespace
from loopdev.errors import ConfigError, TemplateError, UsageError
from loopdev.render.chart import ChartContext, chart_value_layers, render_chart
from loopdev.render.confine import confined, reference_base
from loopdev.render.documents import ORIGINS
from loopdev.render.helm import image_key_values, render_helm
from loopdev.render.inject import inject_images
from loopdev.render.kinds import custom_scopes, is_cluster_scoped, pod_metadata
from loopdev.render.kustomize import render_kustomize
from loopdev.render.labels import RESOURCE_LABEL, add_labels, ownership_labels, set_labels
from loopdev.render.manifests import render_manifests
from loopdev.render.order import order_objects
from loopdev.render.refs import default_refs, normalise_refs
from loopdev.render.resources import resource_by_workload, workload_key, workload_resources
from loopdev.render.restart_wrap import ImageProcess, wrap_restart_containers
from loopdev.render.values import layer_values, load_values_file


def render_objects(
    config: Loopfile,
    image_refs: Mapping[str, str] | None = None,
    *,
    set_values: Sequence[str] = (),
    values_files: Sequence[Path] = (),
    processes: Mapping[str, ImageProcess] | None = None,
    notes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The objects to apply, injected, labelled, namespaced and in apply order.

    ``image_refs`` maps image name -> reference (defaults: planned digest tags);
    ``set_values``/``values_files`` are the command line's ``--set``/``--values``;
    ``processes`` (image name -> what it runs) wraps ``live.restart`` containers in the
    restart wrapper, as a live ``up`` applies them (None: no wrapping, as ``ci``); why a
    container stays unwrapped is appended to ``notes``.
    """
    refs = default_refs(config) if image_refs is None else normalise_refs(config, image_refs)
    origins: dict[int, str] = {}
    token = ORIGINS.set(origins)
    try:
        objects = _source_objects(config, refs, set_values, values_files)
    finally:
        ORIGINS.reset(token)
    inject_images(objects, refs, config.deploy.image_paths)
    if processes is not None:
        found = wrap_restart_containers(objects, config, refs, processes)
        if notes is not None:
            notes.extend(found)
    _own(config, objects)
    _refuse_duplicates(objects, origins)
    return order_objects(objects)


def _source_objects(
    config: Loopfile,
    refs: Mapping[str, str],
    set_values: Sequence[str],
    values_files: Sequence[Path],
) -> list[dict[str, Any]]:
    deploy = config.deploy
    if deploy.kind in ("manifests", "kustomize") and (set_values or values_files):
        raise UsageError(
            f"--set/--values only apply to chart and helm deploys; this one is {deploy.kind}",
            hint="use a kustomize overlay or a profile to vary plain manifests",
        )
    if deploy.kind == "manifests":
        return render_manifests(config.root, deploy.manifests)
    source = _source_dir(config)
    if deploy.kind == "kustomize":
        return render_kustomize(source)
    release = deploy.release or config.name
    loopfile_layers = [
        *(load_values_file(_in_project(config, p)) for p in deploy.values_files),
        deploy.values,
    ]
    cli_layers = [load_values_file(p) for p in values_files]
    if deploy.kind == "helm":
        return _helm_objects(config, refs, (loopfile_layers, cli_layers), set_values)
    user_layers = [*loopfile_layers, *cli_layers]
    chart_layers = chart_value_layers(source, config.active_profiles)
    values = layer_values([*chart_layers, *user_layers], set_values)
    ctx = ChartContext(release, config.namespace, config.active_profiles, refs)
    return render_chart(source, values, ctx, config.root)


def _helm_objects(
    config: Loopfile,
    refs: Mapping[str, str],
    shared: tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]],
    set_values: Sequence[str],
) -> list[dict[str, Any]]:
    """Every release in order. A release's values: deploy.values and valuesFiles, its own
    values and valuesFiles, --values files, its imageKeys, then --set (the command line wins
    over everything, as it does for charts)."""
    loopfile_layers, cli_layers = shared
    objects: list[dict[str, Any]] = []
    homes: list[str] = []  # each object's release namespace
    releases = config.deploy.helm or (
        HelmRelease(_source_dir(config), config.deploy.release or config.name),
    )
    for release in releases:
        layers = [
            *loopfile_layers,
            release.values,
            *(load_values_file(_in_project(config, p)) for p in release.values_files),
            *cli_layers,
            image_key_values(release.image_keys, refs),
        ]
        overlay = layer_values(layers, set_values)
        namespace = release_namespace(config, release)
        rendered = render_helm(
            _existing_dir(config, release.chart),
            release.release,
            namespace,
            config.active_profiles,
            overlay,
            release.flags,
        )
        objects += rendered
        homes += [namespace] * len(rendered)
    _default_namespaces(objects, homes, config.namespace)
    return objects


def _default_namespaces(objects: list[dict[str, Any]], homes: list[str], project: str) -> None:
    """A release's namespaced objects without a namespace live in the release's namespace
    (as ``helm install --namespace`` puts them); ``_own`` gives the rest the project's."""
    scopes = custom_scopes(objects)  # a CRD of one release may scope another's objects
    for obj, home in zip(objects, homes, strict=True):
        meta = obj.setdefault("metadata", {})
        if home == project or meta.get("namespace"):
            continue
        if not is_cluster_scoped(str(obj["kind"]), scopes):
            meta["namespace"] = home


def _existing_dir(config: Loopfile, source: Path) -> Path:
    """A deploy directory (chart, kustomization, each Helm release's chart) that exists and
    whose real path stays in the project."""
    if not source.is_dir():
        raise ConfigError(
            f"{config.path}: deploy.{config.deploy.kind}: directory {source} does not exist"
        )
    what = f"the deploy.{config.deploy.kind} directory"
    return confined(source, reference_base(config.root, str(source)), what)


def _in_project(config: Loopfile, path: Path) -> Path:
    """A loopfile ``valuesFiles`` entry, refused when a link takes it out of the project."""
    return confined(path, reference_base(config.root, str(path)), "deploy.valuesFiles entry")


def _source_dir(config: Loopfile) -> Path:
    source = config.deploy.source
    if source is None:
        raise ConfigError(f"{config.path}: deploy.{config.deploy.kind}: a directory is required")
    return _existing_dir(config, source)


def _own(config: Loopfile, objects: list[dict[str, Any]]) -> None:
    """Ownership labels everywhere, resource labels on workloads, namespace where missing."""
    owned = ownership_labels(config.name)
    scopes = custom_scopes(objects)
    resource_of = resource_by_workload(workload_resources(config, objects))
    for obj in objects:
        add_labels(obj, owned)
        meta = obj["metadata"]
        if not meta.get("namespace") and not is_cluster_scoped(str(obj["kind"]), scopes):
            meta["namespace"] = config.namespace
        resource = resource_of.get(workload_key(obj))  # keys are workloads' only
        if resource is None:
            continue
        add_labels(obj, {RESOURCE_LABEL: resource})
        template_meta = pod_metadata(obj)
        if template_meta is not None and template_meta is not meta:
            set_labels(template_meta, {**owned, RESOURCE_LABEL: resource})


def _refuse_duplicates(objects: list[dict[str, Any]], origins: dict[int, str]) -> None:
    """Two objects with one identity would silently overwrite each other when applied."""
    seen: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for obj in objects:
        meta = obj["metadata"]
        group = str(obj["apiVersion"]).rpartition("/")[0]
        key = (group, str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))
        first = seen.setdefault(key, obj)
        if first is obj:
            continue
        where = f"{key[2]}/{key[3]}" if key[2] else key[3]
        sources = [origins.get(id(o)) for o in (first, obj)]
        from_text = f" (from {sources[0]} and {sources[1]})" if all(sources) else ""
        raise TemplateError(
            f"the deploy renders {key[1]} {where} twice{from_text}; "
            "the second would overwrite the first",
            hint="give each object its own metadata.name (or drop one of them)",
        )
