"""The SPDY/3.1 upgrade handshake of exec and port-forward, as a real 1.28.7 server answers it.

The kubelet negotiates ``X-Stream-Protocol-Version`` with apimachinery's
``httpstream.Handshake`` (comma-separated values, the client's first accepted one) and then
upgrades with ``spdy.NewResponseUpgrader``. Its refusals are Go ``http.Error`` text
(``text/plain; charset=utf-8``, ``X-Content-Type-Options: nosniff``, a trailing newline) with
none of the API server's headers:

- exec, no protocol offered → 400 ``unable to upgrade: X-Stream-Protocol-Version is required``
  (upgrades#26);
- no offered protocol accepted → 403 ``unable to upgrade: unable to negotiate protocol: …``
  plus ``X-Accepted-Stream-Protocol-Versions``; exec writes that body twice (Handshake's
  ``http.Error`` and then its caller's, upgrades#25), port-forward once;
- port-forward, no protocol offered → the kubelet returns without writing (a 200) and the
  API server's upgrade proxy answers 500 ``invalid upgrade response: status code 200``
  (upgrades#51).
"""

from __future__ import annotations

from aiohttp import hdrs, web

from . import wire
from .version import offered_protocols

SPDY = "SPDY/3.1"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
ACCEPTED_HEADER = "X-Accepted-Stream-Protocol-Versions"
EXEC_PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
PORTFORWARD_PROTOCOLS = ("portforward.k8s.io",)


def go_error(
    status: int, text: str, repeat: int = 1, accepted: tuple[str, ...] = ()
) -> web.Response:
    """Go's ``http.Error(w, text, status)``, ``repeat`` times into the same response."""
    resp = web.Response(
        status=status,
        body=(text + "\n").encode() * repeat,
        headers={
            hdrs.CONTENT_TYPE: "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
        },
    )
    for proto in accepted:
        resp.headers.add(ACCEPTED_HEADER, proto)
    return resp


def is_spdy(request: web.Request) -> bool:
    return wire.is_upgrade(request) and request.headers.get(hdrs.UPGRADE, "").lower() == "spdy/3.1"


def offered(request: web.Request) -> list[str]:
    return offered_protocols(",".join(request.headers.getall(PROTOCOL_HEADER, [])))


def negotiate(request: web.Request, accepted: tuple[str, ...], exec_: bool) -> str | web.Response:
    """The negotiated protocol, or the refusal to send instead."""
    clients = offered(request)
    if not clients:
        if exec_:
            return go_error(400, f"unable to upgrade: {PROTOCOL_HEADER} is required")
        return go_error(500, "invalid upgrade response: status code 200")
    for proto in clients:
        if proto in accepted:
            if not is_spdy(request):  # the upgrader refuses anything but SPDY/3.1
                return go_error(400, "unable to upgrade: missing upgrade headers in request")
            return proto
    text = (
        f"unable to upgrade: unable to negotiate protocol: client supports "
        f"{wire.go_argv(clients)}, server accepts {wire.go_argv(list(accepted))}"
    )
    return go_error(403, text, repeat=2 if exec_ else 1, accepted=accepted)
