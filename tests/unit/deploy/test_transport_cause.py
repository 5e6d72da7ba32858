"""The words for a failed connection to the API server: urllib3's own text hides the cause."""

from __future__ import annotations

import socket
import ssl

import urllib3

from loopdev.adapters.kube import transport_cause

E = urllib3.exceptions


def wrapped(inner: BaseException, cause: BaseException | None = None) -> BaseException:
    """What the kubernetes client raises with retries=0: MaxRetryError(reason=inner)."""
    inner.__cause__ = cause
    return E.MaxRetryError(None, "/api/v1/namespaces/x/pods", inner)  # type: ignore[arg-type]


def test_refused_is_not_reported_as_a_timeout() -> None:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.
    err = wrapped(
        E.NewConnectionError(None, "Failed to establish"), ConnectionRefusedError(111, "x")
    )  # type: ignore[arg-type]
    assert transport_cause(err) == "connection refused (nothing listens there)"


def test_dns_tls_and_timeouts_have_their_own_words() -> None:
    dns = wrapped(
        E.NameResolutionError("h", None, socket.gaierror(-2, "Name or service not known"))
    )  # type: ignore[arg-type]
    assert transport_cause(dns).startswith("DNS:")
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate in certificate chain"
    tls = wrapped(E.SSLError(cert))
    assert transport_cause(tls) == (
        "TLS: the server's certificate is not trusted"
        " (self-signed certificate in certificate chain)"
    )
    slow = wrapped(E.ConnectTimeoutError(None, "timed out"))  # type: ignore[arg-type]
    assert transport_cause(slow) == "no answer to the connection attempt (timed out)"
