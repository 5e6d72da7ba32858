from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.config.model import Image, LiveUpdate, RunStep, SyncRule
from loopdev.live.planner import Rebuild, SyncPlan, container_path, plan_live_update

CTX = Path("/src/app")
PIP = RunStep("pip install -r requirements.txt", ("requirements.txt",))
ALWAYS = RunStep("touch /tmp/reload")
LIVE = LiveUpdate(
    sync=(
        SyncRule("app/", "/app/"),
        SyncRule("requirements.txt", "/app/requirements.txt"),
        SyncRule("static/**/*.css", "/www/css"),
    ),
    run=(PIP, ALWAYS),
    rebuild_on=("package.json", "proto/**"),
)


def image(live: LiveUpdate | None = LIVE, dockerfile: Path = CTX / "Dockerfile") -> Image:
    return Image("web", CTX, dockerfile, live=live)


def p(rel: str) -> str:
    return str(CTX / rel)


@pytest.mark.parametrize(
    ("rule", "rel", "expected"),
    [
        (SyncRule("app/", "/app/"), "app/x.py", "/app/x.py"),
        (SyncRule("app", "/srv"), "app/a/b.py", "/srv/a/b.py"),
        (SyncRule("app/", "/app/"), "application.py", None),
        (SyncRule("req.txt", "/app/req.txt"), "req.txt", "/app/req.txt"),
        (SyncRule("req.txt", "/app/"), "req.txt", "/app/req.txt"),
        (SyncRule(".", "/code"), "x/y.go", "/code/x/y.go"),
        (SyncRule("static/**/*.css", "/www"), "static/a/b.css", "/www/a/b.css"),
        (SyncRule("static/**/*.css", "/www"), "static/a/b.js", None),
        (SyncRule("*.py", "/app"), "main.py", "/app/main.py"),
    ],
)
def test_container_path(rule: SyncRule, rel: str, expected: str | None) -> None:
    assert container_path(rule, rel) == expected


def test_synced_file_gives_copy_and_always_step() -> None:
    plan = plan_live_update(image(), {p("app/main.py")}, set())
    assert plan == SyncPlan(((p("app/main.py"), "/app/main.py"),), (), (ALWAYS,), False)


def test_requirements_triggers_its_step_in_order() -> None:
    plan = plan_live_update(image(), {p("requirements.txt"), p("app/a.py")}, set())
    assert isinstance(plan, SyncPlan)
    assert plan.run_steps == (PIP, ALWAYS)
    assert sorted(plan.copies) == [
        (p("app/a.py"), "/app/a.py"),
        (p("requirements.txt"), "/app/requirements.txt"),
    ]


def test_deleted_files_become_container_deletes() -> None:
    plan = plan_live_update(image(), set(), {p("app/old.py"), p("static/x/y.css")})
    assert isinstance(plan, SyncPlan)
    assert sorted(plan.deletes) == ["/app/old.py", "/www/css/x/y.css"]
    assert plan.copies == ()


def test_dockerfile_rebuilds_even_with_synced_files_in_batch() -> None:
    plan = plan_live_update(image(), {p("app/a.py"), p("Dockerfile")}, set())
    assert plan == Rebuild("Dockerfile changed")


def test_dockerfile_outside_context_rebuilds() -> None:
    img = image(dockerfile=Path("/src/docker/web.Dockerfile"))
    assert plan_live_update(img, {"/src/docker/web.Dockerfile"}, set()) == Rebuild(
        "web.Dockerfile changed"
    )


def test_rebuild_on_glob_wins() -> None:
    assert plan_live_update(image(), {p("proto/a/b.proto")}, set()) == Rebuild(
        "proto/a/b.proto changed"
    )
    assert plan_live_update(image(), set(), {p("package.json")}) == Rebuild("package.json changed")


def test_uncovered_path_rebuilds_whole_batch() -> None:
    plan = plan_live_update(image(), {p("app/a.py"), p("setup.cfg")}, set())
    assert plan == Rebuild("setup.cfg changed and no sync rule covers it")


def test_no_live_rules_or_live_off_rebuilds() -> None:
    assert isinstance(plan_live_update(image(live=None), {p("app/a.py")}, set()), Rebuild)
    off = plan_live_update(image(), {p("app/a.py")}, set(), live=False)
    assert off == Rebuild("app/a.py changed (live update is off)")


def test_paths_outside_context_or_ignored_give_no_plan() -> None:
    assert plan_live_update(image(), {"/elsewhere/a.py", "/src/application/x"}, set()) is None
    ignored = plan_live_update(image(), {p("setup.cfg")}, set(), ignored=lambda x: True)
    assert ignored is None


@pytest.mark.parametrize("dest", ["app/", "/app/../etc"])
def test_unsafe_dest_refused(dest: str) -> None:
    live = LiveUpdate(sync=(SyncRule("app/", dest),))
    plan = plan_live_update(image(live=live), {p("app/a.py")}, set())
    assert isinstance(plan, Rebuild) and "dest" in plan.reason


def test_restart_flag_carried() -> None:
    live = LiveUpdate(sync=(SyncRule("app/", "/app/"),), restart=True)
    plan = plan_live_update(image(live=live), {p("app/a.py")}, set())
    assert isinstance(plan, SyncPlan) and plan.restart


def test_thousands_of_deletes() -> None:
    deleted = {p(f"app/gen/f{i}.py") for i in range(5000)}
    plan = plan_live_update(image(), set(), deleted)
    assert isinstance(plan, SyncPlan) and len(plan.deletes) == 5000
