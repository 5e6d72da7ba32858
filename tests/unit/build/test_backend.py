"""Builder choice, BuildKit detection and progress parsing (pure; transcripts from real builds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.adapters.docker_cli import BuildkitCli, CliBuild, build_argv, builtin_verdict
from loopdev.build.backend import choose_builder, needs_buildkit
from loopdev.build.progress import BuildkitTranscript, buildkit_noise, step_of
from loopdev.config.model import BuildSecret, Image
from loopdev.errors import BuildError

IMAGE = Image(name="api", context=Path("/p/api"), dockerfile=Path("/p/api/Dockerfile"))


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("FROM a\nRUN --mount=type=cache,target=/root/.cache pip install x\n", ":2: RUN --mount"),
        ("FROM a\nRUN \\\n  --mount=type=cache,target=/c \\\n  make\n", ":2: RUN --mount"),
        ("# syntax=docker/dockerfile:1\nFROM a\n", ":1: the '# syntax=' directive"),
        ("FROM a\nCOPY --link . /app\n", ":2: COPY --link"),
        ("FROM a\nCOPY --chmod=0755 run.sh /\n", ":2: COPY --chmod"),
        ("FROM a\nRUN --network=none make\n", ":2: RUN --network"),
    ],
)
def test_what_only_buildkit_can_do_is_named_with_its_line(text: str, found: str) -> None:
    assert needs_buildkit(IMAGE, text, "Dockerfile") == f"Dockerfile{found}"


def test_classic_dockerfiles_need_nothing_special() -> None:
    text = "FROM a AS b\nCOPY --from=b /x /y\nRUN echo --mount=not-a-flag\nCOPY --chown=1 . /\n"
    assert needs_buildkit(IMAGE, text, "Dockerfile") is None
    assert needs_buildkit(IMAGE, "FROM a\n# syntax=late is a comment\n", "Dockerfile") is None


def test_secrets_and_ssh_need_buildkit() -> None:
    with_secret = Image(**{**IMAGE.__dict__, "secrets": (BuildSecret("tok", env="TOKEN"),)})
    assert needs_buildkit(with_secret, "FROM a\n", "D") == "images.api.secrets passes build secrets"
    with_ssh = Image(**{**IMAGE.__dict__, "ssh": ("default",)})
    assert "images.api.ssh" in str(needs_buildkit(with_ssh, "FROM a\n", "D"))


def test_choose_builder() -> None:
    assert choose_builder("api", "auto", True, None) == "buildkit"
    assert choose_builder("api", "auto", False, None) == "classic"
    assert choose_builder("api", "classic", True, None) == "classic"
    assert choose_builder("api", "buildkit", True, "D:2: RUN --mount") == "buildkit"


def test_needing_buildkit_without_a_cli_says_what_and_what_was_tried() -> None:
    tried = ["/usr/local/bin/docker: CLI 28.2.2 without the buildx plugin"]
    with pytest.raises(BuildError) as info:
        choose_builder("api", "auto", False, "Dockerfile:2: RUN --mount", tried)
    assert info.value.message == (
        "image api: Dockerfile:2: RUN --mount needs BuildKit, and no docker CLI here can build "
        "with it (tried /usr/local/bin/docker: CLI 28.2.2 without the buildx plugin)"
    )
    assert "buildx" in str(info.value.hint)
    with pytest.raises(BuildError, match="build.builder is 'classic'"):
        choose_builder("api", "classic", True, "Dockerfile:2: RUN --mount")
    with pytest.raises(BuildError, match="build.builder is 'buildkit' but no docker CLI"):
        choose_builder("api", "buildkit", False, None)


@pytest.mark.parametrize(
    ("client", "server", "os_", "why"),
    [
        ("20.10.24+dfsg1", "20.10.24+dfsg1", "linux", None),
        ("28.2.2", "20.10.24+dfsg1", "linux", "CLI 28.2.2 without the buildx plugin"),
        ("20.10.5", "18.06.1-ce", "linux", "engine 18.06.1-ce has no BuildKit"),
        ("20.10.5", "", "", "engine ? has no BuildKit"),
        ("19.03.1", "19.03.1", "windows", "engine runs windows containers"),
        ("garbage", "20.10.1", "linux", "cannot read the client version"),
    ],
)
def test_which_clis_have_buildkit_built_in(
    client: str, server: str, os_: str, why: str | None
) -> None:
    verdict = builtin_verdict(client, server, os_)
    assert verdict is None if why is None else why in str(verdict)


def test_build_argv_for_both_cli_kinds() -> None:
    b = CliBuild(
        "/ctx", "FROM a\n", (), "api:loopdev-1", {"A": "1"}, "dev", {"l": "v"},
        ("id=tok,env=TOKEN",), ("default",),
    )  # fmt: skip
    argv, env = build_argv(BuildkitCli("/usr/bin/docker", "builtin", "20.10"), b, "/t/D", "/t/i")
    assert argv == [
        "/usr/bin/docker", "build", "--progress=plain", "--iidfile", "/t/i", "-t",
        "api:loopdev-1", "-f", "/t/D", "--build-arg", "A=1", "--label", "l=v", "--target",
        "dev", "--secret", "id=tok,env=TOKEN", "--ssh", "default", "/ctx",
    ]  # fmt: skip
    assert env == {"DOCKER_BUILDKIT": "1"}
    argv, env = build_argv(BuildkitCli("/x/docker", "buildx", "v0.12"), b, "/t/D", "/t/i")
    assert argv[:5] == ["/x/docker", "buildx", "build", "--load", "--progress=plain"]
    assert env == {}


# A failing build's plain progress, as /usr/bin/docker 20.10 printed it.
FAILED_RUN = """\
#1 [internal] load build definition from Dockerfile
#1 sha256:c3b81589919b227850c0ae1f4e14733b6264ebb32504de09cce42d8ca9fdceb1
#1 transferring dockerfile: 99B done
#1 DONE 0.0s

#4 [1/2] FROM docker.io/loopdev-test/busybox:1
#4 CACHED

#5 [2/2] RUN echo hello-out && exit 3
#5 sha256:b35945dfa67f9b0cf33b2881e5e88dba7b5a69a0416663065a891979c6a96698
#5 0.453 hello-out
#5 ERROR: executor failed running [/bin/sh -c echo hello-out && exit 3]: exit code: 3
------
 > [2/2] RUN echo hello-out && exit 3:
------
executor failed running [/bin/sh -c echo hello-out && exit 3]: exit code: 3
"""


def test_buildkit_failure_names_the_step_its_error_and_output() -> None:
    t = BuildkitTranscript()
    for line in FAILED_RUN.splitlines():
        t.feed(line)
    assert t.failure(1) == (
        "build failed at [2/2] RUN echo hello-out && exit 3: executor failed running "
        "[/bin/sh -c echo hello-out && exit 3]: exit code: 3\n  | hello-out"
    )


def test_cli_errors_outside_any_step_are_reported() -> None:
    t = BuildkitTranscript()
    t.feed("could not parse secrets: [id=x,src=/nope]: failed to stat /nope")
    assert (
        t.failure(1)
        == "build failed: could not parse secrets: [id=x,src=/nope]: failed to stat /nope"
    )
    assert BuildkitTranscript().failure(7) == "build failed: docker build exited with code 7"


def test_steps_and_noise() -> None:
    lines = FAILED_RUN.splitlines()
    assert [s for s in map(step_of, lines) if s] == [
        "#4 [1/2] FROM docker.io/loopdev-test/busybox:1",
        "#5 [2/2] RUN echo hello-out && exit 3",
    ]
    assert step_of("Step 3/5 : RUN make") == "Step 3/5 : RUN make"
    assert step_of("#3 [internal] load metadata for x") is None
    assert step_of("#7 [base 2/4] COPY . /") == "#7 [base 2/4] COPY . /"
    noise = [ln for ln in lines if buildkit_noise(ln)]
    assert len(noise) == 4 and all(ln == "" or "sha256:" in ln for ln in noise)
