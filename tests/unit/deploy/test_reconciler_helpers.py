from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from loopdev.deploy.status import Classified
from loopdev.reconcilers.deploy import images_of, touches_deploy
from loopdev.reconcilers.logs import streams_wanted
from loopdev.reconcilers.status import pods_by_resource, with_timeout


def ctx(
    tmp: Path, source: Path | None = None, manifests: tuple[str, ...] = (), kind: str = "chart"
) -> SimpleNamespace:
    deploy = SimpleNamespace(
        kind=kind, source=source, manifests=manifests, values_files=(tmp / "v.yaml",), helm=()
    )
    config = SimpleNamespace(root=tmp, deploy=deploy)
    return SimpleNamespace(config=config, options=SimpleNamespace(values_files=("extra.yaml",)))


def test_touches_deploy_for_manifests_chart_and_values(tmp_path: Path) -> None:
    c = ctx(tmp_path, manifests=("k8s/*.yaml",))
    assert touches_deploy(c, [str(tmp_path / "k8s/app.yaml")])
    assert touches_deploy(c, [str(tmp_path / "v.yaml")])
    assert not touches_deploy(c, [str(tmp_path / "src/main.py")])
    chart = ctx(tmp_path, source=tmp_path / "chart")
    assert touches_deploy(chart, [str(tmp_path / "chart/templates/x.yaml")])
    assert not touches_deploy(chart, [str(tmp_path / "k8s/app.yaml")])


def test_touches_deploy_follows_a_kustomize_overlay_into_its_base(tmp_path: Path) -> None:
    """An edit in ../base changes what the overlay renders: it must redeploy."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base/kustomization.yaml").write_text("resources: [app.yaml]\n")
    overlay = tmp_path / "overlays/dev"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("resources: [../../base]\n")
    c = ctx(tmp_path, source=overlay, kind="kustomize")
    assert touches_deploy(c, [str(tmp_path / "base/app.yaml")])
    assert touches_deploy(c, [str(overlay / "kustomization.yaml")])
    assert not touches_deploy(c, [str(tmp_path / "src/main.py")])


def test_images_of_finds_injected_references() -> None:
    objs = [{"spec": {"containers": [{"image": "api:loopdev-1"}]}}]
    assert images_of(objs, {"api": "api:loopdev-1", "web": "web:loopdev-2"}) == {"api"}


def pod(name: str, resource: str | None, statuses: list[dict], deleting: bool = False) -> dict:
    meta: dict = {"name": name, "uid": f"u-{name}", "labels": {}}
    if resource:
        meta["labels"]["loopdev.dev/resource"] = resource
    if deleting:
        meta["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"containerStatuses": statuses}}


def test_streams_follow_started_containers_per_restart() -> None:
    pods = [
        pod(
            "a",
            "web",
            [
                {"name": "main", "restartCount": 2, "state": {"running": {}}},
                {"name": "side", "state": {"waiting": {"reason": "PodInitializing"}}},
            ],
        ),
        pod("b", None, [{"name": "main", "state": {"running": {}}}]),
        pod("c", "web", [{"name": "main", "state": {"running": {}}}], deleting=True),
    ]
    assert streams_wanted(pods) == {("u-a", "main", 2): ("web", "a", "main")}
    assert set(pods_by_resource(pods)) == {"web"}


def test_rollout_timeout_turns_slow_rollouts_into_errors() -> None:
    slow = Classified("deploying", "0 of 1 ready")
    assert with_timeout(slow, started=0.0, now=10.0, limit=300).state == "deploying"
    late = with_timeout(slow, started=0.0, now=301.0, limit=300)
    assert late.state == "error" and "300s" in late.reason and "0 of 1 ready" in late.reason
    crashing = Classified("crashing", "x")
    assert with_timeout(crashing, 0.0, 1000.0, 300) is crashing
    assert with_timeout(Classified("ready"), None, 1000.0, 300).state == "ready"


def test_deploy_inputs_watch_chart_manifest_dirs_and_values_parents(tmp_path: Path) -> None:
    from loopdev.reconcilers.deploy import deploy_inputs

    (tmp_path / "k8s" / "dev").mkdir(parents=True)
    (tmp_path / "chart").mkdir()
    (tmp_path / "vals").mkdir()
    c = ctx(tmp_path, source=tmp_path / "chart", manifests=("k8s/*.yaml", "k8s/dev/x.yaml"))
    c.config.deploy.values_files = (tmp_path / "vals" / "v.yaml", tmp_path / "chart" / "in.yaml")
    trees, flat = deploy_inputs(c)
    assert trees == sorted(
        str(p) for p in (tmp_path / "chart", tmp_path / "k8s", tmp_path / "k8s/dev")
    )
    assert str(tmp_path / "vals") in flat and str(tmp_path / "chart") not in flat


def test_split_timestamp_pads_fractions_so_stamps_compare() -> None:
    from loopdev.reconcilers.logs import split_timestamp

    a = split_timestamp("2026-11-26T15:00:00.1Z hello world")
    b = split_timestamp("2026-11-26T15:00:00.099999999Z earlier")
    assert a == ("2026-11-26T15:00:00.100000000Z", "hello world")
    assert b[0] < a[0]
    assert split_timestamp("2026-11-26T15:00:01Z x")[0] > a[0]
    assert split_timestamp("no stamp here") == ("", "no stamp here")
    assert split_timestamp("") == ("", "")


def test_attach_cut_streams_new_containers_whole_and_old_ones_from_the_session_start() -> None:
    from loopdev.reconcilers.logs import attach_cut, started_at

    def one(state: dict) -> list[dict]:  # type: ignore[type-arg]
        return [pod("a", "web", [{"name": "main", "restartCount": 1, "state": state}])]

    session = 1_764_770_000.5  # 2025-12-03T13:53:20.5Z
    old = one({"running": {"startedAt": "2025-12-03T13:27:00Z"}})
    assert started_at(old, ("u-a", "main", 1)) == 1_764_768_420.0
    assert started_at(old, ("u-a", "main", 0)) is None  # another instance
    assert attach_cut(started_at(old, ("u-a", "main", 1)), session) == "2025-12-03T13:53:20Z"
    ours = one({"running": {"startedAt": "2025-12-03T13:53:20Z"}})  # whole seconds: 0.5 s early
    assert attach_cut(started_at(ours, ("u-a", "main", 1)), session) is None
    done = one({"terminated": {"startedAt": "2025-12-03T13:00:00Z", "exitCode": 0}})
    assert attach_cut(started_at(done, ("u-a", "main", 1)), session) is not None
    assert attach_cut(None, session) is None  # unknown start: the whole log
