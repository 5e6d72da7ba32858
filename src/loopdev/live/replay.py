"""What has been synced into an image's containers since it was built, so a replacement
pod (crash, eviction, scale-up, ``kubectl delete pod``) can be brought to the same point.

Per image: the latest fate of every synced container path (copied from a local file, or
deleted), the run steps triggered since the build, and which containers are known to be
current. A rebuild resets all of it: the new image contains every change.

A ``trigger: manual`` resource gets a ledger of its own per image (forked from the image's
shared one when it comes under manual control): it receives syncs only when triggered, so
its replacement pods must be brought to what it was given, not to what the others have.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from loopdev.config.model import RunStep
from loopdev.live.planner import SyncPlan

_CHANGES = itertools.count(1)  # ledger versions, unique across ledgers and resets


@dataclass
class ImageLedger:
    paths: dict[str, str | None] = field(default_factory=dict)  # container path -> local|None
    steps: list[RunStep] = field(default_factory=list)
    current: set[str] = field(default_factory=set)  # container keys holding every change
    baseline_taken: bool = False  # containers seen before the first sync need nothing
    version: int = 0  # changes with every recorded sync (the retry back-off resets on it)

    def record(self, plan: SyncPlan) -> None:
        self.version = next(_CHANGES)
        for dest in plan.deletes:
            self.paths[dest] = None
            prefix = dest.rstrip("/") + "/"
            for p in [p for p in self.paths if p.startswith(prefix)]:
                self.paths[p] = None
        for local, dest in plan.copies:
            self.paths[dest] = local
        for step in plan.run_steps:
            if step not in self.steps:
                self.steps.append(step)

    def replay_plan(self, restart: bool = False) -> SyncPlan | None:
        """Everything since the build as one plan (None when nothing was synced)."""
        if not self.paths and not self.steps:
            return None
        copies = tuple(sorted((local, dest) for dest, local in self.paths.items() if local))
        deletes = tuple(sorted(dest for dest, local in self.paths.items() if local is None))
        return SyncPlan(copies, deletes, tuple(self.steps), restart)

    @property
    def empty(self) -> bool:
        return not self.paths and not self.steps


class Ledgers:
    """Ledgers by image and group: ``""`` for the resources that follow every change, or the
    name of a manual resource."""

    def __init__(self) -> None:
        self._by_image: dict[str, dict[str, ImageLedger]] = {}

    def get(self, image: str, group: str = "") -> ImageLedger:
        """The group's ledger; a manual resource's starts as a copy of the shared one (what
        its containers were given while it still followed every change)."""
        groups = self._by_image.setdefault(image, {})
        found = groups.get(group)
        if found is None:
            shared = groups.setdefault("", ImageLedger())
            if not group:
                return shared
            found = groups[group] = ImageLedger(
                dict(shared.paths),
                list(shared.steps),
                set(shared.current),
                shared.baseline_taken,
                shared.version,
            )
        return found

    def empty(self, image: str) -> bool:
        """Nothing synced into any group of this image since its build."""
        return all(ledger.empty for ledger in self._by_image.get(image, {}).values())

    def reset(self, image: str) -> None:
        """The image was rebuilt: its containers will start from files with every change."""
        self._by_image.pop(image, None)
