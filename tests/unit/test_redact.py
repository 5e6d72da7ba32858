from __future__ import annotations

import base64

import pytest

from loopdev.redact import (
    MASK,
    Redactor,
    is_secret_name,
    redact_env,
    redact_manifest,
    secret_values,
)

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db"},
    "data": {"password": base64.b64encode(b"hunter2-db").decode()},
    "stringData": {"token": "tok-123456"},
}
DEPLOY = {
    "kind": "Deployment",
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "api",
                        "env": [
                            {"name": "API_KEY", "value": "sk-live-abc"},
                            {"name": "LOG_LEVEL", "value": "debug"},
                            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db"}}},
                        ],
                    }
                ]
            }
        }
    },
}


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "apiKey", "GITHUB_TOKEN", "client_secret", "STRIPE_KEY", "DB_PASS", "dsn"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["LOG_LEVEL", "PORT", "PASSTHROUGH", "KEYBOARD", "bypass", "HOME", "key", "monkey"]
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_env_masks_only_secret_names() -> None:
    assert redact_env({"DB_PASSWORD": "x", "PORT": "80"}) == {"DB_PASSWORD": MASK, "PORT": "80"}


def test_secret_values_decodes_data_and_reads_env() -> None:
    assert set(secret_values(SECRET)) == {SECRET["data"]["password"], "hunter2-db", "tok-123456"}
    assert secret_values(DEPLOY) == ["sk-live-abc"]


def test_redact_manifest_masks_without_touching_input() -> None:
    safe = redact_manifest(SECRET)
    assert safe["data"] == {"password": MASK} and safe["stringData"] == {"token": MASK}
    assert SECRET["stringData"]["token"] == "tok-123456"
    env = redact_manifest(DEPLOY)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e.get("value") for e in env] == [MASK, "debug", None]


def test_redactor_scrubs_registered_values_longest_first() -> None:
    r = Redactor()
    r.add_manifest(SECRET)
    r.add("hunter2")  # a prefix of another value
    out = r.scrub("connecting with hunter2-db and tok-123456")
    assert "hunter2" not in out and "tok-123456" not in out
    assert out == f"connecting with {MASK} and {MASK}"


def test_redactor_ignores_too_short_values_in_free_text() -> None:
    r = Redactor()
    r.add("a", "on")
    assert r.scrub("a value on") == "a value on"


def test_redactor_masks_secret_looking_assignments() -> None:
    r = Redactor()
    text = 'env DB_PASSWORD=s3cr3t LOG_LEVEL=debug {"apiKey": "abc"} token: xyz'
    out = r.scrub(text)
    for leaked in ("s3cr3t", '"abc"', "xyz"):
        assert leaked not in out
    assert "LOG_LEVEL=debug" in out


def test_redactor_env_registration() -> None:
    r = Redactor()
    r.add_env({"SESSION_SECRET": "very-secret-value", "PORT": "8080"})
    assert r.scrub("value very-secret-value port 8080") == f"value {MASK} port 8080"


def test_redactor_registers_a_rendered_object_list() -> None:
    r = Redactor()
    r.add_manifests([DEPLOY, SECRET])
    assert r.scrub("sk-live-abc tok-123456 hunter2-db") == f"{MASK} {MASK} {MASK}"


def test_values_are_masked_in_their_base64_multiline_and_json_forms() -> None:
    r = Redactor()
    key = "-----BEGIN KEY-----\nMIIBszCCAV2gAwIBAgIUe\nAbCdEfGhIjKlMnOp\n-----END KEY-----\n"
    r.add_manifest({"kind": "Secret", "stringData": {"token": "tok-123456", "key.pem": key}})
    b64 = base64.b64encode(b"tok-123456").decode()
    assert r.scrub(f"config blob {b64}") == f"config blob {MASK}"
    assert r.scrub("AbCdEfGhIjKlMnOp") == MASK  # one line of the multi-line value
    assert r.scrub("  MIIBszCCAV2gAwIBAgIUe  ") == f"  {MASK}  "
    escaped = '{"key": "' + key.strip().replace("\n", "\\n") + '"}'
    assert r.scrub(escaped) == '{"key": "' + MASK + '"}'
    assert r.scrub("an ordinary line") == "an ordinary line"


def test_remembered_fingerprints_mask_a_value_never_registered(tmp_path) -> None:  # noqa: ANN001
    from loopdev.redact_memory import SecretMemory, memory_path

    path = memory_path("kind-x", "ns", "shop", root=tmp_path)
    earlier = Redactor()
    earlier.add_manifest({"kind": "Secret", "stringData": {"pw": "old value 1", "t": "alpha-7f3c"}})
    memory = SecretMemory.open(path)
    assert memory.learn(earlier.values()) and not memory.learn(earlier.values())
    memory.save()
    assert path.stat().st_mode & 0o777 == 0o600
    assert "alpha-7f3c" not in path.read_text()  # fingerprints only, never the value

    now = Redactor()  # the next session: it never saw the values
    SecretMemory.open(path).apply(now)
    assert now.scrub("current alpha-7f3c") == f"current {MASK}"
    assert now.scrub('{"t":"alpha-7f3c"} and DB=alpha-7f3c') == f'{{"t":"{MASK}"}} and DB={MASK}'
    assert now.scrub("old value 1") == MASK  # a value with spaces, alone on its line
    assert now.scrub("alpha-7f3d beta") == "alpha-7f3d beta"
    b64 = base64.b64encode(b"alpha-7f3c").decode().rstrip("=")
    assert now.scrub(f"blob {b64}") == f"blob {MASK}"


def test_python_log_records_are_scrubbed_tracebacks_included() -> None:
    import logging
    import sys

    from loopdev.redact import REDACTOR, ScrubFilter

    REDACTOR.add("s3cr3t-log-1")
    try:
        try:
            raise ValueError("bad value s3cr3t-log-1")
        except ValueError:
            record = logging.getLogger("t").makeRecord(
                "t", logging.WARNING, "f", 1, "listener got %s", ("s3cr3t-log-1",), sys.exc_info()
            )
        assert ScrubFilter().filter(record)
        text = logging.Formatter().format(record)
    finally:
        REDACTOR.clear()
    assert "s3cr3t-log-1" not in text
    assert "listener got ********" in text and "bad value ********" in text


def test_a_file_location_in_a_secret_named_file_is_not_masked() -> None:
    """``loopdev: secrets.yaml:8:9: ...`` names where a problem is; it carries no value."""
    from loopdev.redact import Redactor

    r = Redactor()
    line = "loopdev: k8s/secrets.yaml:8:9: invalid YAML, expected a mapping"
    assert r.scrub(line) == line
    assert r.scrub("db-secret.yml:12:1: bad") == "db-secret.yml:12:1: bad"
    assert "hunter2" not in r.scrub("secret: hunter2")
    assert "8:9" not in r.scrub("SECRET=8:9:x")  # an assignment with '=' is still masked
