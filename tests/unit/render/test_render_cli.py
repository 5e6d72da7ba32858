"""`loopdev render`: prints what `up` applies; -o DIR; option errors exit 2 without tracebacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.cli import main_group
from loopdev.commands.render import FILE_HEADER
from loopdev.config.load import load_loopfile
from loopdev.engine.reconciler import SessionContext, SessionOptions
from loopdev.render import to_yaml

REPO = Path(__file__).resolve().parents[3]
HELLO = REPO / "examples" / "hello"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_group, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    """A copy of the hello example (tests may break it)."""
    target = tmp_path / "hello"
    shutil.copytree(HELLO, target)
    return target / "loopfile.yaml"


def test_render_prints_exactly_what_up_applies(hello: Path, tmp_path: Path) -> None:
    """`up`'s deploy reconciler renders through render_for(ctx); same inputs, same bytes."""
    from loopdev.reconcilers.deploy import render_for

    (tmp_path / "extra.yaml").write_text("replicas: 4\n")
    args = ["--set", "greeting=hey", "--values", str(tmp_path / "extra.yaml")]
    code, out, err = run(
        "-f", str(hello), "render", "-p", "prod", "--images", "hello-web=hello-web:loopdev-x", *args
    )
    assert code == 0, err
    config = load_loopfile(hello, ("prod",), command="up", env={})
    ctx = SessionContext(
        config=config,
        store=None,  # type: ignore[arg-type]
        logs=None,  # type: ignore[arg-type]
        kube_context="kind-test",
        namespace=config.namespace,
        options=SessionOptions(
            set_values=("greeting=hey",), values_files=(str(tmp_path / "extra.yaml"),)
        ),
        image_refs={"hello-web": "hello-web:loopdev-x"},
    )
    applied = render_for(ctx)
    assert out == to_yaml(applied)
    assert list(yaml.safe_load_all(out)) == applied
    deploy = next(o for o in applied if o["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 4


def test_render_without_images_uses_digest_tags_never_latest(hello: Path) -> None:
    code, out, _ = run("-f", str(hello), "render")
    assert code == 0
    images = [line.split("image: ")[1] for line in out.splitlines() if "image: " in line]
    assert images and all(i.startswith("hello-web:loopdev-") for i in images)
    assert len(images[0]) == len("hello-web:loopdev-") + 16
    assert "latest" not in out
    code, again, _ = run("-f", str(hello), "render")
    assert again == out


def test_profile_option_after_the_command(hello: Path) -> None:
    _, dev, _ = run("-f", str(hello), "render", "-p", "dev", "--images", "hello-web=h:1")
    _, dev_global, _ = run("-f", str(hello), "-p", "dev", "render", "--images", "hello-web=h:1")
    assert dev == dev_global
    assert "hello from dev" in dev


def test_output_directory_one_file_per_object(hello: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, stdout, err = run(
        "-f", str(hello), "render", "-p", "prod", "--images", "hello-web=h:1", "-o", str(out_dir)
    )
    assert code == 0 and stdout == ""
    assert "wrote 3 files" in err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "000-configmap-hello-web-config.yaml",
        "001-service-hello-web.yaml",
        "002-deployment-hello-web.yaml",
    ]
    text = (out_dir / names[2]).read_text()
    assert text.startswith(FILE_HEADER)
    assert yaml.safe_load(text)["kind"] == "Deployment"

    (out_dir / "mine.yaml").write_text("kept: true\n")
    (hello.parent / "chart/templates/service.yaml").unlink()
    code, _, _ = run("-f", str(hello), "render", "--images", "hello-web=h:1", "-o", str(out_dir))
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "000-configmap-hello-web-config.yaml",
        "001-deployment-hello-web.yaml",
        "mine.yaml",
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--images", "nope=x:1"], "'nope' is not a loopfile image (hello-web)"),
        (["--images", "hello-web"], "expected NAME=REF"),
        (["--set", "novalue"], "expected KEY=VALUE"),
        (["--values", "/nonexistent/v.yaml"], "values file not found"),
        (["-p", "nosuch"], "nosuch"),
    ],
)
def test_usage_errors_exit_2_without_traceback(hello: Path, args: list[str], needle: str) -> None:
    code, out, err = run("-f", str(hello), "render", *args)
    assert code == 2
    assert out == ""
    assert needle in err
    assert "Traceback" not in err


def test_template_error_exits_2_with_file_and_line(hello: Path) -> None:
    tpl = hello.parent / "chart/templates/service.yaml"
    tpl.write_text(tpl.read_text().replace("port: 80", "port: {{ values.servicePort }}"))
    code, out, err = run("-f", str(hello), "render", "--images", "hello-web=h:1")
    assert code == 2 and out == ""
    assert err.startswith("loopdev: chart/templates/service.yaml:")
    assert "servicePort" in err
    assert "Traceback" not in err


def test_namespace_option_applies_to_rendered_objects(hello: Path) -> None:
    code, out, _ = run(
        "-f", str(hello), "--namespace", "team-a", "render", "--images", "hello-web=h:1"
    )
    assert code == 0
    assert {o["metadata"]["namespace"] for o in yaml.safe_load_all(out)} == {"team-a"}


def test_unused_image_is_warned_about(hello: Path) -> None:
    tpl = hello.parent / "chart/templates/deployment.yaml"
    tpl.write_text(tpl.read_text().replace("image: hello-web", "image: somebody-else:1"))
    code, out, err = run("-f", str(hello), "render", "--images", "hello-web=h:1")
    assert code == 0 and "somebody-else:1" in out
    assert "warning: image 'hello-web' is not used by any rendered object" in err
    _, _, quiet = run("-f", str(HELLO), "render", "--images", "hello-web=h:1")
    assert "warning" not in quiet


def test_unreadable_context_falls_back_to_a_named_placeholder(
    hello: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loopdev.build.digest as digest

    def unreadable(_config: object) -> dict[str, str]:
        raise PermissionError("[Errno 13] Permission denied: 'app/secret.txt'")

    monkeypatch.setattr(digest, "planned_refs", unreadable)
    code, out, err = run("-f", str(hello), "render")
    assert code == 0
    assert "image: hello-web:loopdev-unbuilt" in out
    assert "warning: no digest tag for hello-web (" in err and "Permission denied" in err
    code, out, err = run("-f", str(hello), "render", "--images", "hello-web=h:1")
    assert "image: h:1" in out and "warning" not in err
