"""Builds what is out of date, in dependency order, skipping images the cluster already has.

One ``build()`` call computes the digests (worker thread), then runs one task per image:
an image waits for the images it builds ``FROM``, asks the delivery whether its tag is
already where the cluster reads it (then no Docker call at all), else builds under a
semaphore of ``build.parallel`` and delivers. A newer request for an image that is still
building different content cancels that build (the older caller then receives the newer
result); a request for the content already building joins that build. When some
images fail, ``BuildFailed`` carries both the failures and the images that did build.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopdev.adapters.docker import BuildRequest
from loopdev.build.backend import choose_builder, needs_buildkit
from loopdev.build.context import read_dockerignore
from loopdev.build.custom import run_custom_build
from loopdev.build.delivery import Delivery
from loopdev.build.digest import TAG_PREFIX, ImageDigest, compute_digests
from loopdev.build.dockerfile import rewrite_froms
from loopdev.config.model import BuildSecret, Loopfile
from loopdev.errors import BuildError
from loopdev.redact import REDACTOR, scrub

REWRITTEN_DOCKERFILE = ".loopdev.Dockerfile"


@dataclass(frozen=True)
class BuildResult:
    image: str
    ref: str  # the reference manifests must use
    reused: bool
    duration: float


# A tag younger than this is never pruned: another session of the same project (a second
# worktree on a shared Docker engine) may be about to start a pod on it. Tilt keeps images
# for 6 h by default; a few minutes is enough for that race and keeps disk use low.
PRUNE_AFTER = 900.0


def prunable_tags(
    tags: Sequence[tuple[str, int]], current: str, keep: int, now: float, min_age: float
) -> list[str]:
    """Which of an image's ``(ref, created)`` tags to remove (pure): loopdev's own tags
    beyond the newest ``keep`` (``current`` counts as one and always stays), and only those
    created at least ``min_age`` seconds before ``now``."""
    ours = sorted(
        (t for t in tags if t[0].rpartition(":")[2].startswith(TAG_PREFIX) and t[0] != current),
        key=lambda t: t[1],
        reverse=True,
    )
    return [ref for ref, created in ours[max(0, keep - 1) :] if now - created >= min_age]


class ImageBuilder:
    """Engine-facing builder; ``docker_adapter`` is a ``loopdev.adapters.docker.DockerAdapter``."""

    def __init__(
        self,
        config: Loopfile,
        docker_adapter: Any,
        delivery: Delivery,
        on_log: Callable[[str, str], None],
        *,
        labels: Mapping[str, str] | None = None,
        cache_root: Path | None = None,
        keep_tags: int = 3,
        prune_after: float = PRUNE_AFTER,
    ) -> None:
        self.config, self.docker, self.delivery = config, docker_adapter, delivery
        self.on_log = on_log
        self.labels = dict(labels or {})
        self.cache_root = cache_root
        self._sem = asyncio.Semaphore(max(1, config.build.parallel))
        self._running: dict[str, tuple[asyncio.Task[BuildResult], str]] = {}  # task, its ref
        # older build -> the build that replaced it: kept until the older one has handled
        # its cancellation, however long its cleanup takes (the newer may be done by then)
        self._superseded: dict[asyncio.Task[BuildResult], asyncio.Task[BuildResult]] = {}
        self.keep_tags = keep_tags  # older loopdev-* tags of a rebuilt image go; 0: keep all
        self.prune_after = prune_after  # seconds a tag is kept whatever keep_tags says
        self._housekeeping: set[asyncio.Task[None]] = set()

    async def build(
        self, names: Sequence[str] | None = None, force: bool = False
    ) -> dict[str, BuildResult]:
        """Build ``names`` (default: all) and their bases; results for every image touched."""
        digests = await asyncio.to_thread(compute_digests, self.config, names, self.cache_root)
        wanted = set(names) if names else set(digests)
        needed_locally = {b for d in digests.values() for b in d.inputs.bases}
        tasks: dict[str, asyncio.Task[BuildResult]] = {}
        owned: set[asyncio.Task[BuildResult]] = set()
        for name, d in digests.items():  # topological order
            forced = force and name in wanted
            old, old_ref = self._running.get(name, (None, ""))
            if old is not None and not old.done() and old_ref == d.ref and not forced:
                tasks[name] = old  # the same content is already building: join it
                continue
            deps = {b: tasks[b] for b in d.inputs.bases}
            coro = self._one(self._with_base_refs(d, digests), deps, forced, name in needed_locally)
            tasks[name] = asyncio.create_task(coro, name=f"build-{name}")
            owned.add(tasks[name])
            self._running[name] = (tasks[name], d.ref)
            if old is not None and not old.done():
                self._superseded[old] = tasks[name]
                old.cancel()
        waits = [t if t in owned else asyncio.shield(t) for t in tasks.values()]
        try:
            outcomes = await asyncio.gather(*waits, return_exceptions=True)
        except asyncio.CancelledError:
            for t in owned:
                t.cancel()
            raise
        finally:
            for name, t in tasks.items():
                if t in owned and t.done():
                    self._superseded.pop(t, None)  # it may have ended before its cancel landed
                if t in owned and self._running.get(name, (None, ""))[0] is t:
                    del self._running[name]
        return _collect(dict(zip(tasks, outcomes, strict=True)))

    async def _one(
        self,
        d: ImageDigest,
        deps: Mapping[str, asyncio.Task[BuildResult]],
        force: bool,
        needed_locally: bool,
    ) -> BuildResult:
        name = d.inputs.name
        try:
            return await self._run(d, deps, force, needed_locally)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            newer = self._superseded.pop(me, None) if me is not None else None
            if newer is not None and newer is not me:
                self.on_log(name, "build superseded by a newer change")
                # Shielded: cancelling this (older) caller must not cancel the newer build,
                # which belongs to the caller that asked for it.
                return await asyncio.shield(newer)
            raise

    async def _run(
        self,
        d: ImageDigest,
        deps: Mapping[str, asyncio.Task[BuildResult]],
        force: bool,
        needed_locally: bool,
    ) -> BuildResult:
        name, ref, start = d.inputs.name, d.ref, time.monotonic()
        for base, task in deps.items():
            try:
                await task
            except Exception as err:
                raise _BaseFailed(f"image {name}: not built because {base} failed") from err
        if not force and await self._present(ref, needed_locally):
            return BuildResult(name, self.delivery.cluster_ref(ref), True, time.monotonic() - start)
        async with self._sem:
            try:
                if self.config.images[name].custom is not None:
                    await self._custom(d)
                else:
                    req = await self._with_builder(d, self._request(d))
                    self.on_log(name, f"building {ref} ({req.builder})")
                    await self.docker.build(req, lambda line: self.on_log(name, scrub(line)))
            except BuildError as err:  # same class (e.g. DockerUnavailable), image named
                named = err.message.startswith(f"image {name}: ")
                message = scrub(err.message if named else f"image {name}: {err.message}")
                raise type(err)(message, err.hint) from None
        cluster_ref = await self.delivery.deliver(ref)
        if self.delivery.name != "shared":
            self.on_log(name, f"delivered to the cluster ({self.delivery.name}) as {cluster_ref}")
        result = BuildResult(name, cluster_ref, False, time.monotonic() - start)
        if self.keep_tags > 0:  # off the critical path: the deploy need not wait for it
            prune = asyncio.create_task(self._prune(name, ref))
            self._housekeeping.add(prune)
            prune.add_done_callback(self._housekeeping.discard)
        return result

    async def drain(self) -> None:
        """Wait for background housekeeping (old-tag removal); call before the loop ends."""
        while self._housekeeping:
            await asyncio.gather(*self._housekeeping, return_exceptions=True)

    async def _prune(self, name: str, current: str) -> None:
        """Remove this image's older ``loopdev-*`` tags beyond the newest ``keep_tags``.

        Docker refuses to remove an image a container still uses; that is left alone.
        """
        try:
            tags = await self.docker.tags_of(name)
        except Exception:  # noqa: BLE001 - pruning is housekeeping, never a build failure
            return
        for ref in prunable_tags(tags, current, self.keep_tags, time.time(), self.prune_after):
            if await self.docker.remove_tag(ref):
                self.on_log(name, f"removed old image {ref}")

    async def _present(self, ref: str, needed_locally: bool) -> bool:
        if not await self.delivery.has_image(ref):
            return False
        if needed_locally and self.delivery.name != "shared":
            return bool(await self.docker.image_exists(ref))
        return True

    async def _with_builder(self, d: ImageDigest, req: BuildRequest) -> BuildRequest:
        """BuildKit when ``build.builder`` and this machine allow, else the classic builder;
        a build that needs BuildKit where there is none fails here, saying why."""
        image, setting = self.config.images[d.inputs.name], self.config.build.builder
        needs = needs_buildkit(image, d.inputs.dockerfile_text, image.dockerfile)
        probe = None
        if setting != "classic" and hasattr(self.docker, "buildkit_cli"):
            probe = await self.docker.buildkit_cli()
        cli = probe.cli if probe is not None else None
        rejected = probe.rejected if probe is not None else ()
        builder = choose_builder(image.name, setting, cli is not None, needs, rejected)
        if builder == "classic":
            return req
        if image.secrets:  # a RUN that prints one is masked like any secret loopdev knows
            REDACTOR.add(*await asyncio.to_thread(secret_values, image.secrets))
        text = d.inputs.dockerfile_text
        if d.inputs.bases:
            base_refs = d.base_refs if isinstance(d, _Planned) else {}
            text = rewrite_froms(text, image.build_args, base_refs)
        return dataclasses.replace(
            req, builder=builder, cli=cli, dockerfile_text=text, ignore=d.inputs.patterns,
            secrets=tuple(s.cli_spec() for s in image.secrets), ssh=image.ssh,
        )  # fmt: skip

    async def _custom(self, d: ImageDigest) -> None:
        """Run ``images.<name>.custom.cmd``; it must leave ``d.ref`` in the local engine."""
        image = self.config.images[d.inputs.name]
        assert image.custom is not None
        self.on_log(image.name, f"building {d.ref} (custom: {image.custom.cmd})")
        await run_custom_build(image, d.ref, lambda line: self.on_log(image.name, line))
        if not await self.docker.image_exists(d.ref):
            raise BuildError(
                f"the custom build command exited 0 but image {d.ref} does not exist",
                "the command must build or tag the image as $IMAGE, "
                'e.g. docker build -t "$IMAGE" "$BUILD_CONTEXT"',
            )

    def _request(self, d: ImageDigest) -> BuildRequest:
        inputs, image = d.inputs, self.config.images[d.inputs.name]
        files = tuple(e.path for e in inputs.entries if e.kind != "o")
        # One label: the classic builder adds a container-running LABEL step per label.
        labels = {"loopdev.dev/project": self.config.name, **self.labels}
        dockerfile = inputs.dockerfile_rel
        extra: tuple[tuple[str, str], ...] = ()
        if dockerfile is None or inputs.bases:
            base_refs = d.base_refs if isinstance(d, _Planned) else {}
            text = rewrite_froms(inputs.dockerfile_text, image.build_args, base_refs)
            ignore = read_dockerignore(inputs.context) or [".dockerignore"]
            ignore_text = "\n".join([*ignore, REWRITTEN_DOCKERFILE])
            dockerfile = REWRITTEN_DOCKERFILE
            extra = ((REWRITTEN_DOCKERFILE, text), (".dockerignore", ignore_text))
        return BuildRequest(
            context=str(inputs.context),
            files=files,
            tag=d.ref,
            dockerfile=dockerfile,
            extra_files=extra,
            build_args=dict(image.build_args),
            target=image.target,
            labels=labels,
        )

    @staticmethod
    def _with_base_refs(d: ImageDigest, digests: Mapping[str, ImageDigest]) -> _Planned:
        return _Planned(d.inputs, d.digest, {b: digests[b].ref for b in d.inputs.bases})


@dataclass(frozen=True)
class _Planned(ImageDigest):
    base_refs: Mapping[str, str] = field(default_factory=dict)  # base image -> its local tag


def secret_values(secrets: Sequence[BuildSecret]) -> list[str]:
    """The values of build secrets (blocking: reads files), whole and line by line."""
    values: list[str] = []
    for secret in secrets:
        value = os.environ.get(secret.env or "", "") if secret.env else ""
        if secret.src is not None:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                value = secret.src.read_text(encoding="utf-8")
        values += [value.strip(), *(ln.strip() for ln in value.splitlines())]
    return [v for v in values if v]


class _BaseFailed(BuildError):
    """A dependent skipped because its base failed (the base's own error is reported)."""


class BuildFailed(BuildError):
    """Some images failed. The message is the first real failure's; ``results`` holds the
    images that did build (so a caller can still use them) and ``failures`` every error."""

    def __init__(self, failures: dict[str, BuildError], results: dict[str, BuildResult]) -> None:
        first = next((e for e in failures.values() if not isinstance(e, _BaseFailed)), None)
        first = first or next(iter(failures.values()))
        super().__init__(first.message, first.hint)
        self.failures = failures
        self.results = results


def _collect(outcomes: dict[str, BuildResult | BaseException]) -> dict[str, BuildResult]:
    """Results by image; raise ``BuildFailed`` (or the unexpected error itself) on failure."""
    results = {n: r for n, r in outcomes.items() if isinstance(r, BuildResult)}
    failures: dict[str, BuildError] = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, BuildError):
            failures[name] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome
    if failures:
        raise BuildFailed(failures, results)
    return results
