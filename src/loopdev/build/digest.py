"""Content digests of images, and the ``<name>:loopdev-<16 hex>`` tags they give.

The digest covers exactly what decides the image: every entry the build context sends
(relative path, kind, mode, content hash or link target), the Dockerfile text, sorted build
args, the target, and the digests of the loopfile images it builds ``FROM``. A custom build
(``images.<name>.custom``) covers the entries its ``deps`` match, and its command.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pathspec

from loopdev.build.cache import HashCache, open_cache
from loopdev.build.context import Entry, context_patterns, dockerfile_in_context, list_context
from loopdev.build.dockerfile import parse_froms
from loopdev.build.order import closure, loopfile_bases, topo_order
from loopdev.config.model import Image, Loopfile
from loopdev.errors import BuildError, UsageError

TAG_PREFIX = "loopdev-"
_VERSION = b"loopdev-digest-v1\n"


@dataclass(frozen=True)
class ImageInputs:
    """Everything read from disk for one image (the build uses the same file list)."""

    name: str
    context: Path
    dockerfile_text: str
    dockerfile_rel: str | None  # None: the Dockerfile lies outside the context
    patterns: tuple[str, ...]
    entries: tuple[Entry, ...]
    bases: tuple[str, ...]  # loopfile images it builds FROM


@dataclass(frozen=True)
class ImageDigest:
    inputs: ImageInputs
    digest: str  # full sha256 hex

    @property
    def ref(self) -> str:
        return tag_for(self.inputs.name, self.digest)


def tag_for(name: str, digest: str) -> str:
    return f"{name}:{TAG_PREFIX}{digest[:16]}"


def repository_root(start: Path) -> Path:
    """The enclosing git work tree, or ``start`` itself when there is none."""
    for p in (start, *start.parents):
        if (p / ".git").exists():
            return p
    return start


def check_image_paths(image: Image, repo_root: Path) -> None:
    """A clear error for a missing context/Dockerfile or a context outside the repository."""
    ctx = image.context.resolve()
    if not ctx.is_relative_to(repo_root.resolve()):
        raise BuildError(
            f"image {image.name}: context {image.context} is outside the repository {repo_root}",
            "point images.<name>.context at a directory inside the repository",
        )
    if not ctx.is_dir():
        raise BuildError(
            f"image {image.name}: context directory {image.context} does not exist",
            "create it or fix images.<name>.context in the loopfile",
        )
    if image.custom is None and not image.dockerfile.is_file():
        raise BuildError(
            f"image {image.name}: Dockerfile {image.dockerfile} not found",
            "create it or set images.<name>.dockerfile in the loopfile",
        )


def read_inputs(
    image: Image, names: Iterable[str], repo_root: Path, cache_root: Path | None = None
) -> tuple[ImageInputs, HashCache]:
    """Read the Dockerfile and list the context (blocking: call from a worker thread)."""
    check_image_paths(image, repo_root)
    if image.custom is not None:
        return _custom_inputs(image, cache_root)
    text = image.dockerfile.read_text()
    rel = dockerfile_in_context(image.context, image.dockerfile)
    patterns = context_patterns(image.context, image.ignore)
    cache = open_cache(image.context, "\n".join([*patterns, f"\0{rel}"]), cache_root)
    with cache.lock:
        listing = cache.listing()
        entries = list_context(image.context, patterns, rel, listing)
        cache.keep_listing(listing)
    bases = loopfile_bases(parse_froms(text, image.build_args), names)
    bases = tuple(b for b in bases if b != image.name)
    inputs = ImageInputs(
        image.name, image.context, text, rel, tuple(patterns), tuple(entries), bases
    )
    return inputs, cache


def _custom_inputs(image: Image, cache_root: Path | None) -> tuple[ImageInputs, HashCache]:
    """A custom build's inputs: the context entries its ``deps`` name (all when none)."""
    assert image.custom is not None
    patterns = context_patterns(image.context, image.ignore)
    cache = open_cache(image.context, "\n".join([*patterns, "\0custom"]), cache_root)
    with cache.lock:
        listing = cache.listing()
        entries = list_context(image.context, patterns, None, listing)
        cache.keep_listing(listing)
    if image.custom.deps:
        spec = pathspec.PathSpec.from_lines("gitignore", image.custom.deps)
        entries = [e for e in entries if spec.match_file(e.path)]
    inputs = ImageInputs(image.name, image.context, "", None, tuple(patterns), tuple(entries), ())
    return inputs, cache


def combine(
    image: Image, inputs: ImageInputs, file_hashes: Mapping[str, str], bases: Mapping[str, str]
) -> str:
    """The digest from already-read inputs (pure)."""
    h = hashlib.sha256(_VERSION)
    get = file_hashes.get
    h.update(
        "".join(
            f"{path}\0{kind}\0{mode:o}\0{get(path, '') if kind == 'f' else link}\n"
            for path, kind, mode, _size, _mtime, link in inputs.entries
        ).encode()
    )
    h.update(b"\0dockerfile\0" + inputs.dockerfile_text.encode())
    for key in sorted(image.build_args):
        h.update(f"\0arg\0{key}={image.build_args[key]}".encode())
    h.update(f"\0target\0{image.target or ''}".encode())
    if image.custom is not None:  # only then: Dockerfile builds keep their digests
        h.update(f"\0custom\0{image.custom.cmd}\0{image.custom.deps!r}".encode())
    for base in sorted(inputs.bases):
        h.update(f"\0from\0{base}={bases[base]}".encode())
    return h.hexdigest()


def compute_digests(
    config: Loopfile, names: Iterable[str] | None = None, cache_root: Path | None = None
) -> dict[str, ImageDigest]:
    """Digests for ``names`` (default: all images) and the images they build FROM."""
    repo_root = repository_root(config.root)
    all_names = list(config.images)
    unknown = [n for n in (names or ()) if n not in config.images]
    if unknown:
        raise UsageError(
            f"no image named {', '.join(unknown)} in {config.path.name}",
            f"images defined: {', '.join(all_names) or '(none)'}",
        )
    inputs: dict[str, tuple[ImageInputs, HashCache]] = {}
    pending = list(names if names is not None else all_names)
    while pending:
        name = pending.pop()
        if name not in inputs:
            inputs[name] = read_inputs(config.images[name], all_names, repo_root, cache_root)
            pending.extend(inputs[name][0].bases)
    deps = {n: i.bases for n, (i, _) in inputs.items()}
    out: dict[str, ImageDigest] = {}
    for name in topo_order({n: deps[n] for n in closure(deps, inputs)}):
        image_inputs, cache = inputs[name]
        out[name] = ImageDigest(image_inputs, _digest_one(config, image_inputs, cache, out))
    return out


def _digest_one(
    config: Loopfile, inputs: ImageInputs, cache: HashCache, done: Mapping[str, ImageDigest]
) -> str:
    files = [e for e in inputs.entries if e.kind == "f"]
    with cache.lock:
        hashes = cache.hashes(files)
        cache.prune({e.path for e in files})
        cache.save()
    bases = {b: done[b].digest for b in inputs.bases}
    return combine(config.images[inputs.name], inputs, hashes, bases)


def planned_refs(config: Loopfile) -> dict[str, str]:
    """Image name -> the ``<name>:loopdev-<16 hex>`` reference a build would produce."""
    return {name: d.ref for name, d in compute_digests(config).items()}
