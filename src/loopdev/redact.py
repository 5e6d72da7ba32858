"""Keep secret values out of everything loopdev shows: logs, the dashboard, JSON, errors.

Two layers, because neither alone is enough:

- structured: values of ``Secret`` objects and of env vars whose *names* look secret are
  replaced before a manifest or env map is ever printed (``redact_manifest``, ``redact_env``);
- free text: every value seen that way is registered with a ``Redactor`` that scrubs it from
  any line (container logs echo secrets all the time), plus ``NAME=value`` assignments whose
  name looks secret.

Everyone shares the module-level ``REDACTOR`` so a value registered by the deploy step is
scrubbed from the TUI, plain and JSON output alike.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "********"
# Shorter values would mangle ordinary text ("1", "on", "db") if scrubbed from free text;
# they are still masked wherever they appear as a structured value.
MIN_SCRUB_LENGTH = 3

_SECRET_WORDS = re.compile(
    r"password|passwd|passphrase|secret|token|credential|private[_-]?key|api[_-]?key|"
    r"access[_-]?key|signing[_-]?key|encryption[_-]?key|authorization|auth[_-]?token",
    re.IGNORECASE,
)
# Short words that are secret only as a whole name or its last part (DB_PASS, STRIPE_KEY),
# so PASSTHROUGH, KEYBOARD or OLDPWD-like names are not flagged.
# A bare "key" is too common (cache keys, sort keys) to count; "STRIPE_KEY" counts.
_SECRET_SUFFIX = re.compile(r"((^|[_.-])(pass|pw|dsn|auth)|[_.-]key)$", re.IGNORECASE)
# Cheap pre-check before the assignment scan of a line: substring tests on the lowered text
# are ~30x faster than one case-insensitive regex alternation.
_MAYBE_SECRET = ("pass", "key", "dsn", "auth", "secret", "token", "credential", "pw")
# NAME=value / NAME: value / "name": "value" where NAME looks secret.
_ASSIGNMENT = re.compile(
    r"""(?P<key>["']?[A-Za-z_][A-Za-z0-9_.-]*["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<q>["']?)(?P<val>[^\s"',;&]+)(?P=q)"""
)


def is_secret_name(name: str) -> bool:
    """True for env var / key names that conventionally carry secrets (DB_PASSWORD, apiKey)."""
    name = name.strip("\"'")
    return bool(_SECRET_WORDS.search(name) or _SECRET_SUFFIX.search(name))


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` with the values of secret-looking names masked."""
    return {k: (MASK if is_secret_name(k) and v else v) for k, v in env.items()}


def secret_values(obj: Mapping[str, Any]) -> list[str]:
    """Every secret value a manifest carries: Secret data (decoded) and stringData, plus
    literal env values of containers whose names look secret."""
    found: list[str] = []
    if obj.get("kind") == "Secret":
        for value in (obj.get("stringData") or {}).values():
            found.append(str(value))
        for value in (obj.get("data") or {}).values():
            found.append(str(value))  # the base64 form is secret too
            decoded = _b64decode(str(value))
            if decoded is not None:
                found.append(decoded)
    for env in _container_envs(obj):
        if is_secret_name(str(env.get("name", ""))) and env.get("value"):
            found.append(str(env["value"]))
    return [v for v in found if v]


def redact_manifest(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a Kubernetes object safe to show: Secret values and secret-looking
    literal env values masked; everything else unchanged."""
    out: dict[str, Any] = copy.deepcopy(dict(obj))
    if out.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(out.get(key), dict):
                out[key] = {k: MASK for k in out[key]}
    for env in _container_envs(out):
        if is_secret_name(str(env.get("name", ""))) and "value" in env:
            env["value"] = MASK
    return out


def _container_envs(obj: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Env entries of every container in any pod spec nested in the object."""
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for c in value:
                        if isinstance(c, dict):
                            yield from (e for e in c.get("env") or () if isinstance(e, dict))
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


def _b64decode(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


class Redactor:
    """Scrubs registered secret values and secret-looking assignments from free text.

    Thread-safe to register from worker threads; ``scrub`` is one regex pass so it keeps up
    with thousands of log lines per second.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        """Register values to scrub (too-short values are ignored for free text)."""
        new = {v for v in values if v and len(v) >= MIN_SCRUB_LENGTH} - self._values
        if not new:
            return
        with self._lock:
            self._values |= new
            # Longest first so a value containing another is replaced whole.
            alts = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alts))

    def add_manifest(self, obj: Mapping[str, Any]) -> None:
        self.add(*secret_values(obj))

    def add_manifests(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Register every secret a rendered object list carries (call before applying it)."""
        for obj in objects:
            self.add_manifest(obj)

    def add_env(self, env: Mapping[str, str]) -> None:
        self.add(*(v for k, v in env.items() if is_secret_name(k)))

    def clear(self) -> None:
        with self._lock:
            self._values = set()
            self._pattern = None

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value and secret-looking assignment masked."""
        if not text:
            return text
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        low = text.lower()
        if any(word in low for word in _MAYBE_SECRET):
            text = _ASSIGNMENT.sub(_mask_assignment, text)
        return text


def _mask_assignment(m: re.Match[str]) -> str:
    if not is_secret_name(m.group("key")) or m.group("val") == MASK:
        return m.group(0)
    return f"{m.group('key')}{m.group('sep')}{m.group('q')}{MASK}{m.group('q')}"


REDACTOR = Redactor()


def scrub(text: str) -> str:
    """Scrub with the shared redactor (what output and the dashboard call)."""
    return REDACTOR.scrub(text)
