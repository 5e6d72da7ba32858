"""Held file changes for manual resources, and replay ledgers per manual resource."""

from __future__ import annotations

from loopdev.config.model import RunStep
from loopdev.live.held import HeldFiles, merge, pending_line
from loopdev.live.planner import Rebuild, SyncPlan
from loopdev.live.replay import Ledgers


def test_merge_keeps_the_latest_event_per_path() -> None:
    changed, deleted = merge({"/a", "/b"}, {"/c"}, {"/c"}, {"/a"})
    assert changed == {"/b", "/c"} and deleted == {"/a"}


def test_held_batches_accumulate_into_one_union() -> None:
    held = HeldFiles().add({"/x/a.py"}, set()).add({"/x/b.py"}, set()).add(set(), {"/x/a.py"})
    assert held == HeldFiles(frozenset({"/x/b.py"}), frozenset({"/x/a.py"}))


def test_pending_line_names_what_each_image_would_have_done() -> None:
    sync = SyncPlan((("/x/a", "/app/a"), ("/x/b", "/app/b")), ())
    line = pending_line([("api", sync), ("worker", Rebuild("Dockerfile changed"))])
    assert line == (
        "changes pending: 2 files to sync into api; worker to rebuild (Dockerfile changed); "
        "trigger to apply"
    )


def test_a_manual_group_starts_from_the_shared_ledger_then_goes_its_own_way() -> None:
    ledgers = Ledgers()
    shared = ledgers.get("api")
    shared.record(SyncPlan((("/x/a", "/app/a"),), ()))
    shared.current |= {"c-web", "c-worker"}
    shared.baseline_taken = True
    worker = ledgers.get("api", "worker")  # forked: what the worker was given so far
    assert worker.paths == {"/app/a": "/x/a"} and worker.current == {"c-web", "c-worker"}
    shared.record(SyncPlan((("/x/b", "/app/b"),), (), (RunStep("make"),)))
    assert "/app/b" not in ledgers.get("api", "worker").paths  # held changes stay out
    assert ledgers.get("api", "worker").steps == []
    assert not ledgers.empty("api")
    ledgers.reset("api")  # a rebuild: every group starts over
    assert ledgers.empty("api") and ledgers.get("api", "worker").paths == {}


def test_only_a_group_with_syncs_makes_an_image_non_empty() -> None:
    ledgers = Ledgers()
    ledgers.get("api")
    ledgers.get("api", "worker").record(SyncPlan((("/x/a", "/app/a"),), ()))
    assert ledgers.get("api").empty and not ledgers.empty("api")
