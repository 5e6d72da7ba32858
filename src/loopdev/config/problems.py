"""Collecting config problems: every one found in a run, located, deduplicated, in file order."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any, NamedTuple, NoReturn

from loopdev.errors import ConfigError, ConfigProblem

Path_ = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SECRET_KEY = re.compile(r"(?i)(passw(or)?d|secret|token|api[-_]?key|credential|private[-_]?key)")


def is_secret_key(name: str) -> bool:
    """Whether a key's value should never be shown (``DB_PASSWORD``, ``apiToken``, ...)."""
    return bool(_SECRET_KEY.search(name))


def is_secret_path(path: tuple[str | int, ...]) -> bool:
    """Whether any key on ``path`` looks secret, so its value is kept out of messages."""
    return any(isinstance(p, str) and is_secret_key(p) for p in path)


class Mark(NamedTuple):
    """1-based line and column."""

    line: int
    col: int


def format_path(path: Path_) -> str:
    """``images.api.live.sync[0].dest``; keys with dots or slashes are quoted: ``x["a.b/c"]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def one_of(choices: Iterable[object]) -> str:
    """``'a', 'b' or 'c'`` for messages."""
    items = [repr(c) if isinstance(c, str) else str(c) for c in choices]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def report_exactly_one(
    mapping: dict[str, object], keys: list[str], path: Path_, marks: Any, problems: Problems
) -> None:
    """Problem unless exactly one of ``keys`` is in ``mapping`` (worded once for schema and
    semantic checks, so the same problem found by both is reported once)."""
    present = [k for k in keys if k in mapping]
    if len(present) == 1:
        return
    if not present:
        problems.add_at(marks.value_at(path), path, f"needs one of {one_of(keys)}, found none")
        return
    together = " and ".join(repr(k) for k in present)
    msg = f"{together} cannot be used together, expected exactly one of {one_of(keys)}"
    where = (*path, present[1])
    problems.add_at(marks.key_at(where), where, msg)


class LoopfileError(ConfigError):
    """A ConfigError that also shows each offending source line with a caret under the column.

    Lines that might hold a secret (a secret-looking key on the path or on the line) are not
    shown, so a password typed into the loopfile never reaches a terminal or CI log.
    """

    def __init__(self, problems: list[ConfigProblem], lines: list[str], hint: str) -> None:
        super().__init__(problems, hint)
        self.lines = lines

    def render(self) -> str:
        out: list[str] = []
        for problem in self.problems:
            out.append(str(problem))
            out += _snippet(problem, self.lines)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


def _snippet(problem: ConfigProblem, lines: list[str]) -> list[str]:
    if not 1 <= problem.line <= len(lines):
        return []
    text = lines[problem.line - 1].rstrip()
    if not text.strip() or _SECRET_KEY.search(problem.path) or _SECRET_KEY.search(text):
        return []
    gutter = f"{problem.line:>5} | "
    caret = " " * (len(gutter) - 2) + "| " + " " * (problem.col - 1) + "^"
    return [gutter + text.replace("\t", " "), caret]


class Problems:
    """Accumulates problems for one file so that a run reports all of them at once."""

    def __init__(self, file: str, source: str = "") -> None:
        self.file = file
        self.source = source  # the file's text, for snippets under each problem
        self._seen: set[tuple[int, int, str]] = set()
        self.items: list[ConfigProblem] = []

    def add_at(self, mark: Mark, path: Path_, message: str) -> None:
        """Record ``message`` for ``path`` at ``mark`` unless the same text is already there."""
        key = (mark.line, mark.col, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.items.append(ConfigProblem(self.file, mark.line, mark.col, format_path(path), message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise one ConfigError carrying every problem, sorted by position in the file."""
        if self.items:
            self.fail()

    def fail(self) -> NoReturn:
        """Raise the problems found so far (callers have recorded at least one)."""
        ordered = sorted(self.items, key=lambda p: (p.line, p.col))
        lines = self.source.splitlines()
        raise LoopfileError(ordered, lines, hint="see docs/loopfile.md for every key")
