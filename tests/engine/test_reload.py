"""Reloading the loopfile during `up`: the pure diff of two models, the reload actions in the
reducer, owner-scoped store subscriptions, what presenters show, and the config reconciler
keeping the last good config on an invalid edit."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from pathlib import Path

import pytest

from loopdev.config.load import load_loopfile
from loopdev.config.model import Loopfile
from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.reducer import reduce
from loopdev.engine.reload import ConfigDiff, diff_configs
from loopdev.engine.state import EngineState
from loopdev.engine.store import OWNER, Store
from loopdev.output import PlainOutput, events_between, plain_text
from loopdev.reconcilers.config import ConfigReconciler
from loopdev.tui.viewmodel import status_line

BASE = """\
version: v1
name: p
namespace: ns
images:
  api:
    context: .
    live:
      sync: [{src: src/, dest: /app/}]
deploy:
  manifests: [k8s/*.yaml]
resources:
  web:
    workload: deployment/web
"""


def model(tmp_path: Path, text: str) -> Loopfile:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "k8s").mkdir(exist_ok=True)
    path = tmp_path / "loopfile.yaml"
    path.write_text(text)
    return load_loopfile(path)


def edited(tmp_path: Path, old: str, new: str) -> ConfigDiff:
    before = model(tmp_path, BASE)
    assert old in BASE
    return diff_configs(before, model(tmp_path, BASE.replace(old, new)))


def test_an_identical_file_changes_nothing(tmp_path: Path) -> None:
    diff = diff_configs(model(tmp_path, BASE), model(tmp_path, BASE + "\n# a comment\n"))
    assert diff.empty and diff.restarts() == set() and diff.summary() == "nothing"


def test_a_deploy_edit_re_renders_only(tmp_path: Path) -> None:
    diff = edited(tmp_path, "deploy:\n", "deploy:\n  rolloutTimeout: 5\n")
    assert diff.deploy and not diff.images and diff.restarts() == set()
    assert diff.summary() == "deploy"


def test_an_added_port_forward_restarts_the_forwards_only(tmp_path: Path) -> None:
    diff = edited(tmp_path, "deployment/web\n", "deployment/web\n    portForwards: ['8080:80']\n")
    assert diff.forwards_changed == ("web",) and diff.resources_changed == ("web",)
    assert not diff.deploy and diff.restarts() == {"portforward"}
    assert diff.summary() == "port-forwards web"


def test_a_resource_setting_other_than_forwards_is_no_forward_change(tmp_path: Path) -> None:
    diff = edited(tmp_path, "deployment/web\n", "deployment/web\n    labels: [front]\n")
    assert diff.resources_changed == ("web",) and diff.forwards_changed == ()
    assert diff.restarts() == set() and diff.summary() == "resources web"


def test_a_live_rule_edit_is_no_rebuild(tmp_path: Path) -> None:
    diff = edited(tmp_path, "dest: /app/", "dest: /srv/")
    assert diff.live_changed == ("api",) and diff.images_changed == ()
    assert not diff.images and diff.restarts() == set()


def test_a_build_input_edit_rebuilds_that_image(tmp_path: Path) -> None:
    diff = edited(tmp_path, "    context: .\n", "    context: .\n    buildArgs: {A: b}\n")
    assert diff.images_changed == ("api",) and diff.live_changed == ()
    assert diff.restarts() == {"build"} and diff.summary() == "rebuild api"


def test_added_and_removed_images_and_local_commands(tmp_path: Path) -> None:
    before = model(tmp_path, BASE)
    text = (
        BASE.replace("images:\n  api:", "images:\n  worker:") + "local:\n  gen:\n    cmd: 'true'\n"
    )
    diff = diff_configs(before, model(tmp_path, text))
    assert diff.images_added == ("worker",) and diff.images_removed == ("api",)
    assert diff.local_added == ("gen",)
    assert diff.restarts() == {"build"}  # local commands re-plan themselves
    assert diff.summary() == "images +worker; images -api; local +gen"


@pytest.mark.parametrize("key", ["name", "namespace"])
def test_the_project_identity_cannot_change_while_running(tmp_path: Path, key: str) -> None:
    old = f"{key}: {'p' if key == 'name' else 'ns'}\n"
    diff = edited(tmp_path, old, f"{key}: other\n")
    assert diff.refused.startswith(f"{key} cannot change") and not diff.empty


def test_a_release_namespace_cannot_change_while_running(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    helm = "deploy:\n  helm: [{chart: chart, namespace: one}]\n"
    before = model(tmp_path, BASE.replace("deploy:\n  manifests: [k8s/*.yaml]\n", helm))
    after = model(
        tmp_path, BASE.replace("deploy:\n  manifests: [k8s/*.yaml]\n", helm.replace("one", "two"))
    )
    diff = diff_configs(before, after)
    assert diff.refused.startswith("a Helm release's namespace cannot change")
    assert diff_configs(before, before).refused == ""


def test_the_reducer_keeps_the_error_until_a_reload_clears_it() -> None:
    state = EngineState()
    bad = reduce(state, a.ConfigInvalid("loopfile.yaml:3:1: x: wrong"), 0.0)
    assert bad.config_error == "loopfile.yaml:3:1: x: wrong" and bad.version == 1
    assert reduce(bad, a.ConfigInvalid(bad.config_error), 0.0) is bad  # no new version
    good = reduce(bad, a.ConfigReloaded(None, ConfigDiff()), 0.0)
    assert good.config_error == "" and good.config_reloads == 1


def test_presenters_show_the_error_and_its_clearing() -> None:
    bad = dataclasses.replace(EngineState(), config_error="f.yaml:2:1: a: no\nf.yaml:4:1: b: no")
    (event,) = events_between(EngineState(), bad)
    text, style = plain_text(event)
    assert text == (
        "loopfile not reloaded: f.yaml:2:1: a: no; f.yaml:4:1: b: no (the last good config runs)"
    )
    assert "red" in style
    (cleared,) = events_between(bad, EngineState())
    assert plain_text(cleared)[0] == "loopfile valid again"
    line, _ = status_line(bad)
    assert line.startswith("loopfile not reloaded: f.yaml:2:1: a: no") and "b: no" not in line


async def test_subscribers_are_dropped_by_owner() -> None:
    store = Store()
    seen: list[str] = []

    async def subscribe_as(owner: str) -> None:
        OWNER.set(owner)
        store.subscribe(lambda _s, _b: seen.append(owner))

    await asyncio.create_task(subscribe_as("build"))
    await asyncio.create_task(subscribe_as("deploy"))
    store.unsubscribe_owner("build")
    runner = asyncio.create_task(store.run())
    store.dispatch(a.ClusterReachability(False))
    await store.settled()
    runner.cancel()
    assert seen == ["deploy"]


async def test_an_invalid_edit_keeps_the_config_and_a_fix_takes_effect(tmp_path: Path) -> None:
    good = model(tmp_path, BASE)
    path = tmp_path / "loopfile.yaml"
    store, logs = Store(), LogStore()
    ctx = SessionContext(good, store, logs, "kind-x", "ns", reload=lambda: load_loopfile(path))
    runner = asyncio.create_task(store.run())
    seen: list[a.Action] = []
    store.subscribe(lambda _s, batch: seen.extend(batch))
    out = io.StringIO()
    PlainOutput(out, color=False).attach(store, logs)
    rec = ConfigReconciler()
    try:
        path.write_text(BASE.replace("workload: deployment/web", "workload: [1]"))
        await rec.reload(ctx)
        await store.settled()
        assert ctx.config is good
        assert store.state.config_error.startswith(f"{path}:13:")
        assert not [x for x in seen if isinstance(x, a.ConfigReloaded)]

        path.write_text(BASE.replace("deployment/web", "deployment/api"))
        await rec.reload(ctx)
        await store.settled()
        assert ctx.config.resources["web"].workload == "deployment/api"
        assert store.state.config_error == ""
        (reloaded,) = [x for x in seen if isinstance(x, a.ConfigReloaded)]
        assert reloaded.diff.resources_changed == ("web",)
        assert "loopfile.yaml reloaded: resources web" in out.getvalue()
    finally:
        runner.cancel()


async def test_a_deleted_loopfile_is_reported_and_a_recreated_one_taken(tmp_path: Path) -> None:
    good = model(tmp_path, BASE)
    path = tmp_path / "loopfile.yaml"
    store = Store()
    ctx = SessionContext(
        good, store, LogStore(), "kind-x", "ns", reload=lambda: load_loopfile(path)
    )
    runner = asyncio.create_task(store.run())
    rec = ConfigReconciler()
    try:
        path.unlink()
        await rec.reload(ctx)
        await store.settled()
        assert store.state.config_error == f"{path}: deleted (restore it, or stop `loopdev up`)"
        assert ctx.config is good

        async def recreate() -> None:  # an editor's delete + create
            await asyncio.sleep(0.1)
            path.write_text(BASE.replace("deployment/web", "deployment/api"))

        writer = asyncio.create_task(recreate())
        await rec.reload(ctx)
        await writer
        await store.settled()
        assert store.state.config_error == ""
        assert ctx.config.resources["web"].workload == "deployment/api"
    finally:
        runner.cancel()
