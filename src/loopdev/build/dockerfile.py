"""Just enough Dockerfile parsing to find the images a Dockerfile builds ``FROM``.

Handles parser directives (``# escape=``), line continuations, comments, global ``ARG``s
before the first ``FROM`` (overridden by build args, as ``docker build`` does), ``${VAR}``
forms in the reference, ``--platform`` flags and ``AS`` stage names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class FromLine:
    """One ``FROM`` instruction: physical line span, flags, the resolved image and stage name."""

    first: int  # 0-based index of the first physical line
    last: int  # inclusive
    flags: tuple[str, ...]
    raw: str  # the reference as written
    image: str  # after ARG substitution
    stage: str | None
    is_stage_ref: bool  # refers to an earlier build stage, not an image


def _escape_char(lines: list[str]) -> str:
    for line in lines:
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            return m.group(2)
    return "\\"


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(first, last, text) per instruction, continuations joined and comment lines dropped."""
    lines = text.splitlines()
    esc = _escape_char(lines)
    out: list[tuple[int, int, str]] = []
    buf: list[str] = []
    start = -1
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if not buf:
            start = i
        if stripped.endswith(esc):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        out.append((start, i, " ".join(buf)))
        buf = []
    if buf:
        out.append((start, len(lines) - 1, " ".join(buf)))
    return out


def substitute(value: str, env: Mapping[str, str]) -> str:
    """Expand ``$V``, ``${V}``, ``${V:-word}`` and ``${V:+word}`` (unset -> empty)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        current = env.get(name, "")
        if m.group(2) == "-":
            return current or m.group(3)
        if m.group(2) == "+":
            return m.group(3) if current else ""
        return current

    return _VAR.sub(repl, value)


def _global_arg(rest: str, build_args: Mapping[str, str], env: dict[str, str]) -> None:
    for token in rest.split():
        name, eq, default = token.partition("=")
        default = default.strip("\"'") if eq else ""
        env[name] = build_args.get(name, default)


def parse_froms(text: str, build_args: Mapping[str, str]) -> list[FromLine]:
    """Every ``FROM`` in order, with global ARGs substituted."""
    env: dict[str, str] = {}
    stages: set[str] = set()
    out: list[FromLine] = []
    for first, last, line in _logical_lines(text):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and not out:
            _global_arg(rest, build_args, env)
        if word != "FROM":
            continue
        parts = rest.split()
        flags = tuple(p for p in parts if p.startswith("--"))
        args = [p for p in parts if not p.startswith("--")]
        if not args:
            continue
        raw = args[0]
        stage = args[2] if len(args) >= 3 and args[1].upper() == "AS" else None
        image = substitute(raw, env)
        is_stage = image.lower() in stages
        out.append(FromLine(first, last, flags, raw, image, stage, is_stage))
        if stage:
            stages.add(stage.lower())
    return out


def repository(ref: str) -> str:
    """``host:5000/a/b:tag@sha256:..`` -> ``host:5000/a/b`` (the tag or digest removed)."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def rewrite_froms(text: str, build_args: Mapping[str, str], refs: Mapping[str, str]) -> str:
    """Point ``FROM <loopfile image>`` lines at the references just built (by repository)."""
    lines = text.splitlines()
    for fl in reversed(parse_froms(text, build_args)):
        repo = repository(fl.image)
        if fl.is_stage_ref or repo not in refs:
            continue
        stage = f" AS {fl.stage}" if fl.stage else ""
        new = " ".join(["FROM", *fl.flags, refs[repo]]) + stage
        lines[fl.first : fl.last + 1] = [new]
    return "\n".join(lines) + "\n"
