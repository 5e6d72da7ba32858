"""The image references injected when the caller passes none (``loopdev render`` without
``--images``): the content-digest tags the build step would produce, or a placeholder named
``<image>:loopdev-unbuilt`` when the build context cannot be read. Never ``latest``."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from loopdev.config.model import Loopfile
from loopdev.errors import LoopdevError

UNBUILT_TAG = "loopdev-unbuilt"

log = logging.getLogger(__name__)


def placeholder_refs(config: Loopfile) -> dict[str, str]:
    return {img.name: f"{img.name}:{UNBUILT_TAG}" for img in config.images.values()}


def default_refs(config: Loopfile) -> dict[str, str]:
    """Planned digest tags (``loopdev.build.digest.planned_refs``), placeholders on failure."""
    return planned_refs_or_placeholders(config)[0]


def planned_refs_or_placeholders(config: Loopfile) -> tuple[dict[str, str], str | None]:
    """``default_refs`` plus why placeholders were used (None when the digests worked)."""
    if not config.images:
        return {}, None
    try:
        from loopdev.build.digest import planned_refs  # lazy: hashing is the build's concern

        planned = dict(planned_refs(config))
    except (ImportError, OSError, LoopdevError) as err:
        reason = err.message if isinstance(err, LoopdevError) else str(err)
        log.debug("using placeholder image refs: %s", reason)
        return placeholder_refs(config), reason
    return {**placeholder_refs(config), **normalise_refs(config, planned)}, None


def normalise_refs(config: Loopfile, refs: Mapping[str, str]) -> dict[str, str]:
    """Refs keyed by image name (the repository manifests use), accepting loopfile keys too."""
    out: dict[str, str] = {}
    for key, ref in refs.items():
        image = config.images.get(key)
        out[image.name if image is not None else key] = ref
    return out
