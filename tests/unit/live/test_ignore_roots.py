from __future__ import annotations

from pathlib import Path

from loopdev.config.model import Image
from loopdev.live.ignore import for_dir, for_image
from loopdev.live.roots import RootSet, plan_watch


def make_tree(root: Path, files: list[str]) -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


def test_image_rules_combine_dockerignore_gitignore_loopignore(tmp_path: Path) -> None:
    make_tree(tmp_path, ["Dockerfile", "app/a.py", "docs/x.md", "build/o.bin", "secret.env"])
    (tmp_path / ".dockerignore").write_text("docs/\n*.md\n!docs/keep.md\n")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / ".loopignore").write_text("*.env\n")
    rules = for_image(Image("web", tmp_path, tmp_path / "Dockerfile", ignore=("tmp/",)))
    root = str(tmp_path.resolve())
    assert not rules.ignored(f"{root}/app/a.py")
    assert not rules.ignored(f"{root}/Dockerfile")
    assert rules.ignored(f"{root}/docs/x.md")
    assert not rules.ignored(f"{root}/docs/keep.md")
    assert rules.ignored(f"{root}/build/o.bin")
    assert rules.ignored(f"{root}/secret.env")
    assert rules.ignored(f"{root}/tmp/t.txt")
    assert rules.ignored(f"{root}/app/.main.py.swp")
    assert rules.ignored(f"{root}/node_modules/x/index.js")
    assert rules.ignored("/elsewhere/a.py")
    assert rules.prunes(f"{root}/build") and not rules.prunes(f"{root}/docs")


def test_plan_never_descends_into_ignored_trees(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        ["Dockerfile", "app/pkg/a.py", "lib/b.py", ".git/objects/x", "node_modules/m/i.js"],
    )
    make_tree(tmp_path, ["env/pyvenv.cfg", "env/lib/site.py", "app/pkg/node_modules/q/r.js"])
    root = str(tmp_path.resolve())
    roots = RootSet([for_image(Image("web", tmp_path, tmp_path / "Dockerfile"))])
    plan = plan_watch(roots)
    assert plan.recursive == ()
    assert set(plan.flat) == {root, f"{root}/lib", f"{root}/app", f"{root}/app/pkg"}
    assert plan.dirs == 4


def test_overlapping_roots_are_watched_once(tmp_path: Path) -> None:
    make_tree(tmp_path, ["Dockerfile", "svc/Dockerfile", "svc/a.py"])
    outer = for_image(Image("all", tmp_path, tmp_path / "Dockerfile"))
    inner = for_image(Image("svc", tmp_path / "svc", tmp_path / "svc" / "Dockerfile"))
    local = for_dir(tmp_path / "svc")
    roots = RootSet([inner, outer, local])
    assert roots.top_roots() == [str(tmp_path.resolve())]
    root = str(tmp_path.resolve())
    assert plan_watch(roots).flat == (root, f"{root}/svc")


def test_inotify_hint_names_the_numbers_and_the_fix(monkeypatch) -> None:  # noqa: ANN001
    from loopdev.adapters import watch

    monkeypatch.setattr(watch, "inotify_limit", lambda: 1000)
    assert watch.count_dirs_hint(100) is None
    hint = watch.count_dirs_hint(900)
    assert hint is not None and "900 directories" in hint and "(1000)" in hint
    assert "sysctl fs.inotify.max_user_watches=524288" in hint
    err = watch.limit_error(5000)
    assert "is 1000" in err.message and "5000" in err.message and "sysctl" in (err.hint or "")
