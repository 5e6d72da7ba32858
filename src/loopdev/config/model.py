"""The loaded, validated loopfile as frozen plain data.

Every other module reads configuration through these types only. Paths are absolute
(resolved against the loopfile's directory by the loader); field names are snake_case
versions of the YAML keys (``buildArgs`` -> ``build_args``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

TriggerMode = Literal["auto", "manual"]
DeployKind = Literal["chart", "manifests", "kustomize", "helm"]
DeliveryMode = Literal["auto", "shared", "kind", "k3d", "registry"]
BuilderMode = Literal["auto", "buildkit", "classic"]


@dataclass(frozen=True)
class SyncRule:
    """Copy files matching ``src`` (a glob or directory relative to the context) to ``dest``."""

    src: str
    dest: str  # absolute path in the container


@dataclass(frozen=True)
class RunStep:
    """A command run in the container after a sync; only when a changed file matches ``trigger``."""

    cmd: str
    trigger: tuple[str, ...] = ()  # globs relative to the context; empty = always


@dataclass(frozen=True)
class LiveUpdate:
    sync: tuple[SyncRule, ...] = ()
    run: tuple[RunStep, ...] = ()
    rebuild_on: tuple[str, ...] = ()  # globs relative to the context
    restart: bool = False


@dataclass(frozen=True)
class BuildSecret:
    """A BuildKit build secret (``RUN --mount=type=secret,id=...``): a file or a variable."""

    id: str
    src: Path | None = None  # a file on this machine (absolute)
    env: str | None = None  # or an environment variable of loopdev's process

    def cli_spec(self) -> str:
        """The ``docker build --secret`` value (names the source, never holds the value)."""
        return f"id={self.id},src={self.src}" if self.src else f"id={self.id},env={self.env}"


@dataclass(frozen=True)
class CustomBuild:
    """A user command that builds the image itself (Skaffold custom, Tilt custom_build)."""

    cmd: str  # run by /bin/sh in the context with $IMAGE and $BUILD_CONTEXT set
    deps: tuple[str, ...] = ()  # globs relative to the context; empty: the whole context


@dataclass(frozen=True)
class Image:
    name: str  # the repository manifests refer to, e.g. "api" or "example.com/api"
    context: Path
    dockerfile: Path
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()  # extra .dockerignore-style patterns
    live: LiveUpdate | None = None
    secrets: tuple[BuildSecret, ...] = ()
    ssh: tuple[str, ...] = ()  # --ssh specs: "default" or "id=/absolute/path"
    custom: CustomBuild | None = None


@dataclass(frozen=True)
class ImagePath:
    """Where images sit in a custom resource, for injection: kind and a dotted path."""

    kind: str
    path: str  # e.g. "spec.template.image" ; "[]" marks a list: "spec.workers[].image"


@dataclass(frozen=True)
class ImageKey:
    """Where a Helm chart takes a built image from its values (Tilt's ``image_keys``):
    the whole reference at ``key``, or its repository and tag at two keys (dotted paths)."""

    image: str
    key: str | None = None
    repository: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class HelmRelease:
    """One ``helm template`` run: a chart, its release name, and what only it gets."""

    chart: Path
    release: str
    values: Mapping[str, Any] = field(default_factory=dict)  # over deploy.values
    values_files: tuple[Path, ...] = ()  # after deploy.valuesFiles
    flags: tuple[str, ...] = ()  # extra `helm template` arguments
    image_keys: tuple[ImageKey, ...] = ()
    namespace: str | None = None  # None: the project namespace


@dataclass(frozen=True)
class Deploy:
    kind: DeployKind
    source: Path | None = None  # chart dir, kustomize dir or (first) helm chart dir
    manifests: tuple[str, ...] = ()  # globs relative to the loopfile dir (kind == "manifests")
    release: str | None = None  # release name for chart/helm; defaults to the project name
    values: Mapping[str, Any] = field(default_factory=dict)
    values_files: tuple[Path, ...] = ()
    image_paths: tuple[ImagePath, ...] = ()
    rollout_timeout: float = 300.0
    helm: tuple[HelmRelease, ...] = ()  # kind == "helm": every release, in order


@dataclass(frozen=True)
class PortForward:
    local: int
    remote: int | str  # a port number or a container port name (a Service port with service)
    host: str = "127.0.0.1"
    service: str | None = None  # forward to a Ready pod behind this Service


@dataclass(frozen=True)
class Resource:
    """Extra settings for a workload the deploy renders (resources are derived from workloads)."""

    name: str
    workload: str  # "deployment/api", "statefulset/db", ...
    port_forwards: tuple[PortForward, ...] = ()
    depends_on: tuple[str, ...] = ()
    trigger: TriggerMode = "auto"
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Probe:
    """Readiness of a local command: exactly one of http (URL), tcp (host:port) or exec."""

    http: str | None = None
    tcp: str | None = None
    exec: str | None = None
    period: float = 1.0
    timeout: float = 1.0


@dataclass(frozen=True)
class LocalCommand:
    name: str
    cmd: str | None = None  # run to completion on start and when deps change
    serve: str | None = None  # long-running; restarted when deps change
    deps: tuple[str, ...] = ()  # globs relative to workdir
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: Path = Path(".")
    readiness: Probe | None = None
    depends_on: tuple[str, ...] = ()
    trigger: TriggerMode = "auto"
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildSettings:
    delivery: DeliveryMode = "auto"
    registry: str | None = None  # push here instead (host[:port][/prefix])
    parallel: int = 2
    builder: BuilderMode = "auto"  # auto: BuildKit when a capable docker CLI is found


@dataclass(frozen=True)
class Loopfile:
    path: Path  # the loopfile itself
    root: Path  # its directory; every relative path in the file is relative to it
    name: str
    namespace: str
    images: Mapping[str, Image]
    deploy: Deploy
    resources: Mapping[str, Resource] = field(default_factory=dict)
    local: Mapping[str, LocalCommand] = field(default_factory=dict)
    allow_contexts: tuple[str, ...] = ()
    build: BuildSettings = field(default_factory=BuildSettings)
    profiles: tuple[str, ...] = ()  # every profile the file defines
    active_profiles: tuple[str, ...] = ()  # those applied to produce this model, in order
    version: str = "v1"
