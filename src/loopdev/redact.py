"""Keep secret values out of everything loopdev shows: logs, the dashboard, JSON, errors.

Two layers, because neither alone is enough:

- structured: values of ``Secret`` objects and of env vars whose *names* look secret are
  replaced before a manifest or env map is ever printed (``redact_manifest``, ``redact_env``);
- free text: every value seen that way is registered with a ``Redactor`` that scrubs it from
  any line (container logs echo secrets all the time), plus ``NAME=value`` assignments whose
  name looks secret. Each value is registered in the forms it takes in text (``variants``):
  itself, its base64 form, each line of a multi-line value (logs arrive a line at a time) and
  its JSON-escaped form.
- earlier sessions: values are remembered only as keyed fingerprints (``redact_memory``), so a
  pod still running a value from two sessions ago is masked without the value on disk.

Everyone shares the module-level ``REDACTOR`` so a value registered by the deploy step is
scrubbed from the TUI, plain and JSON output alike.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import logging
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
# Candidate tokens for fingerprint matching: a value is rarely glued to other text except by
# quotes, brackets, commas or NAME= / key: (tried as parts too).
_TOKEN = re.compile(r"""[^\s"'`,;()\[\]{}<>]+""")
_PARTS = re.compile(r"[=:]")
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


def variants(value: str) -> set[str]:
    """The forms a secret value takes in printed text: itself, its base64 form (padded, and
    unpadded as URLs and JWTs print it), and for a multi-line value each of its lines and its
    JSON-escaped form."""
    out = {value}
    body = value.strip("\r\n")
    for form in {value, body}:
        encoded = base64.b64encode(form.encode()).decode()
        out |= {encoded, encoded.rstrip("=")}
    if "\n" in body:
        out |= {line.strip() for line in body.splitlines()}
        out.add(json.dumps(body)[1:-1])
    return {v for v in out if len(v) >= MIN_SCRUB_LENGTH}


def fingerprint(key: bytes, value: str) -> str:
    """A keyed digest of a value: enough to recognise it again, not to recover it."""
    return hashlib.blake2b(value.encode(), key=key, digest_size=16).hexdigest()


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
        self._key = b""  # fingerprints of values from earlier sessions (see redact_memory)
        self._prints: frozenset[str] = frozenset()
        self._lengths: frozenset[int] = frozenset()

    def values(self) -> frozenset[str]:
        """Every value (in every form) registered so far: what the next session remembers."""
        return frozenset(self._values)

    def remember(self, key: bytes, prints: set[str], lengths: set[int]) -> None:
        """Also scrub values known only by ``fingerprint(key, value)`` and their lengths."""
        with self._lock:
            self._key = key
            self._prints = self._prints | prints
            self._lengths = self._lengths | {n for n in lengths if n >= MIN_SCRUB_LENGTH}

    def add(self, *values: str) -> None:
        """Register values to scrub, in every form they print as (``variants``); too-short
        ones are ignored for free text."""
        forms = {f for v in values if v for f in variants(v)}
        new = forms - self._values
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
            self._key, self._prints, self._lengths = b"", frozenset(), frozenset()

    def _known(self, token: str) -> bool:
        return len(token) in self._lengths and fingerprint(self._key, token) in self._prints

    def _scrub_token(self, m: re.Match[str]) -> str:
        token = m.group(0)
        if self._known(token):
            return MASK
        parts = _PARTS.split(token)
        if len(parts) == 1 or not any(self._known(p) for p in parts):
            return token
        seps = _PARTS.findall(token)
        out = [MASK if self._known(p) else p for p in parts]
        return "".join(p + s for p, s in zip(out, [*seps, ""], strict=True))

    def _scrub_remembered(self, text: str) -> str:
        text = _TOKEN.sub(self._scrub_token, text)
        whole = text.strip()  # a value with spaces in it, alone on its line
        return text.replace(whole, MASK) if whole and self._known(whole) else text

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value and secret-looking assignment masked."""
        if not text:
            return text
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        if self._prints:
            text = self._scrub_remembered(text)
        low = text.lower()
        if any(word in low for word in _MAYBE_SECRET):
            text = _ASSIGNMENT.sub(_mask_assignment, text)
        return text


# ``secrets.yaml:8:9:`` is a file name and a line:column, not NAME: value.
_LOCATION = re.compile(r"^\d+:\d+(:|$)")


def _mask_assignment(m: re.Match[str]) -> str:
    if not is_secret_name(m.group("key")) or m.group("val") == MASK:
        return m.group(0)
    if "=" not in m.group("sep") and _LOCATION.match(m.group("val")):
        return m.group(0)
    return f"{m.group('key')}{m.group('sep')}{m.group('q')}{MASK}{m.group('q')}"


REDACTOR = Redactor()


def scrub(text: str) -> str:
    """Scrub with the shared redactor (what output and the dashboard call)."""
    return REDACTOR.scrub(text)


class ScrubFilter(logging.Filter):
    """Scrubs Python log records (warnings reach stderr through logging's last-resort
    handler), tracebacks included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def scrub_python_logs() -> None:
    """Install ``ScrubFilter`` on the handlers Python logging prints through."""
    handlers = [logging.lastResort, *logging.getLogger().handlers]
    for handler in handlers:
        if handler is not None and not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
