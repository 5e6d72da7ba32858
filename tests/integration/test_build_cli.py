"""`loopdev build` end to end: output, reuse, and one-line errors with exit code 1."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from loopdev.cli import main_group

pytestmark = pytest.mark.docker

LOOPFILE = """\
version: v1
name: clitest
images:
  {api}:
    context: api
  {web}:
    context: web
deploy:
  manifests: ["k8s/*.yaml"]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str, str]]:
    client = docker.from_env()  # scripts/test guarantees an engine: fail loudly, never skip
    client.ping()
    prefix = f"loopdev-it-cli-{uuid.uuid4().hex[:6]}"
    api, web = f"{prefix}/api", f"{prefix}/web"
    (tmp_path / ".git").mkdir()
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    for d in ("api", "web"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
        (tmp_path / d / "f.txt").write_text(d)
    (tmp_path / "loopfile.yaml").write_text(LOOPFILE.format(api=api, web=web))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("LOOPDEV_CACHE_DIR", str(tmp_path / ".." / f"cache-{prefix}"))
    yield tmp_path, api, web
    for image in client.images.list(name=f"{prefix}/*"):
        for tag in image.tags:
            client.images.remove(tag, force=True)
    client.close()


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main_group, ["build", *args], env=env)


def test_builds_then_reuses_and_prints_refs(project: tuple[Path, str, str]) -> None:
    root, api, web = project
    first = run("-q")
    assert first.exit_code == 0, first.output
    assert re.search(rf"^{re.escape(api)}\s+{re.escape(api)}:loopdev-[0-9a-f]{{16}}\s+built in ",
                     first.stdout, re.M)  # fmt: skip
    assert re.search(rf"^{re.escape(web)}\s+\S+\s+built in ", first.stdout, re.M)

    second = run(api)
    assert second.exit_code == 0
    lines = second.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(api) and " reused in " in lines[0]

    (root / "web/f.txt").write_text("changed")
    third = run()
    assert re.search(rf"^{re.escape(web)}\s+\S+\s+built in ", third.stdout, re.M)
    assert re.search(rf"^{re.escape(api)}\s+\S+\s+reused in ", third.stdout, re.M)
    assert f"[{web}] building {web}:loopdev-" in third.stderr  # output streams unless -q
    assert re.search(r"\] #\d+ \[1/1\] COPY \. /app", third.stderr)  # BuildKit plain progress


def test_docker_unreachable_is_one_clear_line(project: tuple[Path, str, str]) -> None:
    res = run(env={"DOCKER_HOST": "unix:///tmp/loopdev-no-docker.sock"})
    assert res.exit_code == 1
    assert res.stderr.startswith(
        "loopdev: cannot connect to Docker at unix:///tmp/loopdev-no-docker.sock; "
        "is the Docker engine running?"
    )
    assert "Traceback" not in res.output


def test_context_outside_repository_and_unknown_image(
    project: tuple[Path, str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root, api, _ = project
    outside = tmp_path_factory.mktemp("outside")
    (outside / "Dockerfile").write_text("FROM scratch\n")
    text = (root / "loopfile.yaml").read_text()
    text = text.replace("    context: api", f"    context: {outside}")
    (root / "loopfile.yaml").write_text(text)
    res = run(api)
    assert res.exit_code == 1
    assert f"image {api}: context {outside} is outside the repository" in res.stderr
    assert "Traceback" not in res.output
    unknown = run("nope")
    assert unknown.exit_code == 2 and "no image named nope" in unknown.stderr


def test_failed_build_exits_1_naming_the_step(project: tuple[Path, str, str]) -> None:
    root, api, _ = project
    (root / "api/Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")
    res = run("-q", api)
    assert res.exit_code == 1
    assert ": build failed at [1/1] COPY missing.txt /: " in res.stderr  # BuildKit's step


def test_custom_build_command_from_the_loopfile(project: tuple[Path, str, str]) -> None:
    """images.<name>.custom as a user writes it: the command tags the image it is told to."""
    root, api, _ = project
    (root / "api/Dockerfile").unlink()  # a custom build needs none
    (root / "api/build.sh").write_text(
        "#!/bin/sh\nset -e\nprintf 'FROM scratch\\nCOPY f.txt /\\n' |"
        ' DOCKER_BUILDKIT=0 docker build -q --label loopdev-test=1 -t "$IMAGE" -f - .\n'
    )
    text = (
        (root / "loopfile.yaml")
        .read_text()
        .replace(
            "    context: api\n",
            "    context: api\n    custom: {cmd: sh build.sh, deps: [f.txt]}\n",
        )
    )
    (root / "loopfile.yaml").write_text(text)
    first = run(api)
    assert first.exit_code == 0, first.output
    ref = first.stdout.split()[1]
    assert " built in " in first.stdout and f"[{api}] building {ref} (custom: sh build.sh)" in (
        first.stderr
    )
    assert docker.from_env().images.get(ref).labels.get("loopdev-test") == "1"
    (root / "api/build.sh").write_text((root / "api/build.sh").read_text() + "# edited\n")
    again = run(api)  # build.sh is not in deps: nothing to do
    assert again.exit_code == 0 and " reused in " in again.stdout and ref in again.stdout
