"""A real image registry for tests: Debian's ``docker-registry`` (the CNCF distribution
registry) on 127.0.0.1 with TLS (a trustme CA) and htpasswd (bcrypt) auth, plus a docker
config directory holding its credentials, as ``docker login`` would write them."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import trustme

USER, PASSWORD = "loopdev", "not-a-real-password"


@dataclass(frozen=True)
class LocalRegistry:
    host: str  # 127.0.0.1:PORT
    docker_config: Path  # a DOCKER_CONFIG directory with this registry's credentials
    ca_pem: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(host: str, ca_pem: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    import ssl

    ctx = ssl.create_default_context(cafile=str(ca_pem))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"https://{host}/v2/", context=ctx, timeout=1)
        except urllib.error.HTTPError as err:
            if err.code == 401:  # up, and asking for credentials
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not come up: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running_registry(root: Path) -> Iterator[LocalRegistry]:
    """Start the registry under ``root``; stop it and drop its storage afterwards."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is missing: scripts/ensure-docker installs it")
    root.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        str(root / "server.pem")
    )
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (root / "htpasswd").write_text(f"{USER}:{hashed}\n")
    host = f"127.0.0.1:{_free_port()}"
    (root / "config.yml").write_text(
        json.dumps(  # JSON is YAML
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
                "http": {
                    "addr": host,
                    "tls": {
                        "certificate": str(root / "server.pem"),
                        "key": str(root / "server.pem"),
                    },
                },
                "auth": {"htpasswd": {"realm": "loopdev-test", "path": str(root / "htpasswd")}},
            }
        )
    )
    config_dir = root / "docker-config"
    config_dir.mkdir()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config_dir / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))
    log = root / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdout=out, stderr=out)
    try:
        _wait_up(host, root / "ca.pem", proc, log)
        yield LocalRegistry(host, config_dir, root / "ca.pem")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
