"""File changes held back for a ``trigger: manual`` resource (pure data and wording).

The held batches are merged into one, so a trigger plans their union at once: a file
changed then deleted is deleted, deleted then written again is changed; any path that needs
a rebuild makes the whole union rebuild, as the planner decides for a single batch.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

from loopdev.live.planner import Rebuild, SyncPlan
from loopdev.live.report import plural


def merge(
    changed: Set[str], deleted: Set[str], more_changed: Set[str], more_deleted: Set[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """Two consecutive batches as one: the later event for a path wins."""
    return (
        frozenset((changed - more_deleted) | more_changed),
        frozenset((deleted - more_changed) | more_deleted),
    )


@dataclass(frozen=True)
class HeldFiles:
    changed: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()

    def add(self, changed: Set[str], deleted: Set[str]) -> HeldFiles:
        return HeldFiles(*merge(self.changed, self.deleted, changed, deleted))


def pending_line(plans: Sequence[tuple[str, SyncPlan | Rebuild]]) -> str:
    """One log line for a held batch: what it would have done, per image."""
    parts = []
    for image, plan in plans:
        if isinstance(plan, SyncPlan):
            parts.append(f"{plural(plan.file_count, 'file')} to sync into {image}")
        else:
            parts.append(f"{image} to rebuild ({plan.reason})")
    return f"changes pending: {'; '.join(parts)}; trigger to apply"
