"""Which builder runs an image's build: BuildKit (through the docker CLI) or the classic one.

Pure decisions over plain data: ``needs_buildkit`` reads what a Dockerfile and its image
settings ask for, ``choose_builder`` weighs that against ``build.builder`` and whether a
BuildKit-capable CLI was found, and says clearly why a build cannot run.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import takewhile
from pathlib import Path
from typing import Literal

from loopdev.build.dockerfile import _DIRECTIVE, _logical_lines
from loopdev.config.model import Image
from loopdev.errors import BuildError

Builder = Literal["classic", "buildkit"]
_FLAGS = {  # instruction -> flags only BuildKit understands
    "RUN": ("--mount", "--network", "--security"),
    "COPY": ("--link", "--chmod", "--parents", "--exclude"),
    "ADD": ("--link", "--chmod", "--checksum", "--keep-git-dir", "--exclude"),
}
_HINT = (
    "install the docker buildx plugin, or use a docker CLI older than 23.0 with BuildKit "
    "built in (Debian 12's docker.io: /usr/bin/docker)"
)


def needs_buildkit(image: Image, text: str, dockerfile: Path | str) -> str | None:
    """What in this build only BuildKit can do, as ``file:line: ...`` (None: nothing)."""
    if image.secrets:
        return f"images.{image.name}.secrets passes build secrets"
    if image.ssh:
        return f"images.{image.name}.ssh forwards SSH agents or keys"
    for number, line in enumerate(text.splitlines(), 1):
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        if m.group(1).lower() == "syntax":
            return f"{dockerfile}:{number}: the '# syntax=' directive"
    for first, _last, line in _logical_lines(text):
        word, _, rest = line.partition(" ")
        flags = [t.split("=", 1)[0] for t in takewhile(lambda t: t.startswith("--"), rest.split())]
        for flag in flags:
            if flag in _FLAGS.get(word.upper(), ()):
                return f"{dockerfile}:{first + 1}: {word.upper()} {flag}"
    return None


def choose_builder(
    image: str,
    setting: str,
    cli_found: bool,
    needs: str | None,
    rejected: Sequence[str] = (),
) -> Builder:
    """``build.builder`` (auto/buildkit/classic) and the machine -> the builder, or why not."""
    tried = f" (tried {'; '.join(rejected)})" if rejected else ""
    if setting == "classic":
        if needs:
            raise BuildError(
                f"image {image}: {needs} needs BuildKit, but build.builder is 'classic'",
                "set build.builder to auto (or buildkit) in the loopfile",
            )
        return "classic"
    if cli_found:
        return "buildkit"
    if setting == "buildkit":
        raise BuildError(
            f"image {image}: build.builder is 'buildkit' but no docker CLI here can build "
            f"with BuildKit{tried}",
            _HINT,
        )
    if needs:
        raise BuildError(
            f"image {image}: {needs} needs BuildKit, and no docker CLI here can build with "
            f"it{tried}",
            _HINT,
        )
    return "classic"
