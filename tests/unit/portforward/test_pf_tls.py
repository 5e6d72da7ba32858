"""The port-forward client takes TLS material from the official client's Configuration:
a server CA, a client certificate (mutual TLS) and a bearer token, as in a kind kubeconfig."""

from __future__ import annotations

import base64
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml
from pf_fake_server import TOKEN, FakeApi, http_backend, pod

from loopdev.adapters.kube_portforward import KubeWire
from loopdev.portforward.stream import DialError


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> None:
    """A CA, a server cert for 127.0.0.1 and a client cert, all signed by the CA."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subj in (("server", "/CN=127.0.0.1"), ("client", "/CN=dev/O=system:masters")):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subj,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        extra = ["-extfile", "san.ext"] if name == "server" else []
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            f"{name}.crt",
            *extra,
            cwd=d,
        )


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


async def test_dial_over_mutual_tls_with_kubeconfig_data(tmp_path: Path) -> None:
    make_pki(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tmp_path / "ca.crt")
    server_ctx.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    server_ctx.verify_mode = ssl.CERT_REQUIRED  # no client certificate: no handshake
    api = FakeApi()
    await api.start(ssl_context=server_ctx)
    backend, addr = await http_backend("secure")
    api.put(pod("p1"), backend=addr)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": api.url,
                            "certificate-authority-data": _b64(tmp_path / "ca.crt"),
                        },
                    }
                ],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "token": TOKEN,
                            "client-certificate-data": _b64(tmp_path / "client.crt"),
                            "client-key-data": _b64(tmp_path / "client.key"),
                        },
                    }
                ],
                "contexts": [{"name": "kind-tls", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "kind-tls",
            }
        )
    )
    wire = await KubeWire.connect("kind-tls", str(kubeconfig))
    try:
        assert api.url.startswith("https://")
        stream = await wire.dial("default", "p1", 8000, timeout=5)
        await stream.write(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := await stream.read():
            data += chunk
        assert data.endswith(b"secure")
        await stream.close()
        pods, _version = await wire.list_pods("default", "")
        assert [p["metadata"]["name"] for p in pods] == ["p1"]

        config = yaml.safe_load(kubeconfig.read_text())  # without the CA: refused, not trusted
        del config["clusters"][0]["cluster"]["certificate-authority-data"]
        untrusted = tmp_path / "untrusted"
        untrusted.write_text(yaml.safe_dump(config))
        other = await KubeWire.connect("kind-tls", str(untrusted))
        with pytest.raises(DialError, match="certificate"):
            await other.dial("default", "p1", 8000, timeout=5)
        await other.close()
    finally:
        await wire.close()
        await api.stop()
        backend.close()
