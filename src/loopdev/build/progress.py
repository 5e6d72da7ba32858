"""Reading build output: the step a build is at, and what to say when it fails.

Both builders are covered. The classic builder prints ``Step 3/5 : RUN ...`` before each
instruction; BuildKit's ``--progress=plain`` prints numbered vertices (``#5 [2/3] RUN ...``),
their output (``#5 0.42 text``) and their end (``#5 DONE 0.7s``, ``#5 ERROR: ...``). The
parsing is pure so it is unit-tested on transcripts of real builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERTEX = re.compile(r"^#(\d+) (.*)$")
_STEP_HEADER = re.compile(r"^\[(?!internal\])[^\]]*\d+/\d+\] ")  # "[2/3] RUN", "[base 1/2] FROM"
_OUTPUT = re.compile(r"^\d+\.\d+ (.*)$")  # "0.453 hello" (seconds since the vertex started)
_DIGEST_LINE = re.compile(r"^sha256:[0-9a-f]{64}$")


STEP_CHARS = 120  # how much of a step header the build status keeps


def step_of(line: str) -> str | None:
    """The build step ``line`` starts, for the dashboard (None: not a step header). The
    whole line, so plain output can tell the step event from the log line it repeats."""
    if line.startswith("Step ") and " : " in line:
        return line
    m = _VERTEX.match(line)
    if m and _STEP_HEADER.match(m.group(2)):
        return line
    return None


def buildkit_noise(line: str) -> bool:
    """BuildKit 20.10's ``#N sha256:<vertex digest>`` lines and blank separators."""
    m = _VERTEX.match(line)
    return not line.strip() or bool(m and _DIGEST_LINE.match(m.group(2)))


@dataclass
class BuildkitTranscript:
    """Collects a BuildKit plain-progress stream to explain a failure in one message."""

    headers: dict[str, str] = field(default_factory=dict)  # vertex -> "[2/3] RUN ..."
    output: dict[str, list[str]] = field(default_factory=dict)  # vertex -> its output lines
    errors: list[tuple[str, str]] = field(default_factory=list)  # (vertex, message)
    other: list[str] = field(default_factory=list)  # lines outside any vertex

    def feed(self, line: str) -> None:
        m = _VERTEX.match(line)
        if m is None:
            if line.strip() and line.strip() != "------" and not line.startswith(" > "):
                self.other.append(line.strip())
            return
        vertex, rest = m.groups()
        if vertex not in self.headers:
            self.headers[vertex] = rest
        elif rest.startswith("ERROR: "):
            self.errors.append((vertex, rest[len("ERROR: ") :]))
        elif out := _OUTPUT.match(rest):
            self.output.setdefault(vertex, []).append(out.group(1))

    def failure(self, exit_code: int) -> str:
        """``build failed at <step>: <error>`` plus the failing step's last output lines."""
        if self.errors:
            vertex, error = self.errors[-1]
            step = self.headers.get(vertex, "the Dockerfile")
            tail = [ln for ln in self.output.get(vertex, []) if ln.strip()][-20:]
            text = f"build failed at {step}: {error}"
            return "\n".join([text, *(f"  | {ln}" for ln in tail)])
        last = self.other[-1] if self.other else f"docker build exited with code {exit_code}"
        return f"build failed: {last}"
