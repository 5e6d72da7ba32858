"""Golden files: every example under examples/, with no profile and with each profile.

Regenerate with ``LOOPDEV_UPDATE_GOLDEN=1 pytest tests/unit/render/test_render_golden.py``
and review the diff. Image references are passed explicitly so goldens do not depend on
file hashes. Helm examples render with the real helm from the ``helm_on_path`` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loopdev.config.load import load_loopfile
from loopdev.render import render_objects, to_yaml

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LOOPDEV_UPDATE_GOLDEN") == "1"


def _cases() -> list[tuple[str, str | None]]:
    cases: list[tuple[str, str | None]] = []
    for loopfile in sorted(EXAMPLES.glob("*/loopfile.yaml")):
        config = load_loopfile(loopfile, (), command="render", env={})
        cases.append((loopfile.parent.name, None))
        cases += [(loopfile.parent.name, profile) for profile in config.profiles]
    return cases


CASES = _cases()


def test_every_example_kind_is_covered() -> None:
    kinds = {
        load_loopfile(EXAMPLES / name / "loopfile.yaml", (), env={}).deploy.kind
        for name, _ in CASES
    }
    assert {"chart", "manifests", "kustomize", "helm"} <= kinds
    assert ("hello", "dev") in CASES and ("hello", "prod") in CASES
    assert ("helm-app", "dev") in CASES and ("helm-app", "prod") in CASES


@pytest.mark.parametrize(
    ("example", "profile"), CASES, ids=[f"{e}-{p or 'default'}" for e, p in CASES]
)
def test_golden(example: str, profile: str | None, request: pytest.FixtureRequest) -> None:
    config = load_loopfile(
        EXAMPLES / example / "loopfile.yaml",
        (profile,) if profile else (),
        command="render",
        env={},
    )
    if config.deploy.kind == "helm":
        request.getfixturevalue("helm_on_path")
    refs = {img.name: f"{img.name}:loopdev-golden0000000" for img in config.images.values()}
    text = to_yaml(render_objects(config, refs))
    golden = GOLDEN / example / f"{profile or 'default'}.yaml"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with LOOPDEV_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")
    assert "loopdev-golden0000000" in text  # the example's image really was injected
    assert ":latest" not in text
