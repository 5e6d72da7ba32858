"""The Kubernetes version the fake claims, and what that version negotiates on the wire.

Selectable because clients behave differently per server version and the streaming
protocols differ: ``/version`` reports it (``/usr/bin/kubectl`` here is Cloud SDK's
dispatcher, which runs ``kubectl.1.<minor>`` for the server it finds), and exec negotiates
what that server would.

- Exec over WebSocket: the kubelet's (CRI) streaming server accepts ``v4.channel.k8s.io``,
  ``v4.base64.channel.k8s.io``, ``channel.k8s.io``, ``base64.channel.k8s.io`` or no
  subprotocol, on every version (recorded on 1.28.7: upgrades#1-7). ``v5.channel.k8s.io``
  is served by the API server's StreamTranslatorProxy behind the feature gate
  ``TranslateStreamCloseWebsocketRequests``: alpha (off) in 1.29, beta and on by default
  from 1.30 (kubernetes/kubernetes#123281, KEP-4006). So up to 1.29 ``[v5, v4]`` gets v4
  and ``[v5]`` alone gets 403 (upgrades#1, #3); from 1.30 a v5 offer gets v5.
- Port-forward over WebSocket: ``v4.channel.k8s.io``, ``v4.base64.channel.k8s.io`` or none
  (upgrades#29-35). From 1.31 (``PortForwardWebsockets`` beta) the API server would also
  tunnel ``SPDY/3.1+portforward.k8s.io``; the fake does not tunnel, so it refuses that
  offer with 403 at every version and kubectl falls back to plain SPDY/3.1.
- SPDY/3.1 (exec: v4/v3/v2/channel.k8s.io, port-forward: portforward.k8s.io) is served
  the same at every version (``spdy_upgrade.py``, ``spdy_streams.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_VERSION = "1.28"  # the version the wire transcripts were recorded from (1.28.7)
V5_FROM_MINOR = 30

EXEC_WS_V4 = (
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
)
V5 = "v5.channel.k8s.io"
PORTFORWARD_WS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io")


@dataclass(frozen=True)
class ServerVersion:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        """``1.28``, ``1.28.7`` or ``v1.28.7``."""
        m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
        if not m:
            raise ValueError(f"server version {text!r}: expected MAJOR.MINOR[.PATCH], e.g. 1.28")
        return cls(int(m[1]), int(m[2]), int(m[3] or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def git_version(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}-fakekube"

    @property
    def serves_v5(self) -> bool:
        return (self.major, self.minor) >= (1, V5_FROM_MINOR)

    def exec_protocols(self) -> tuple[str, ...]:
        """Every WebSocket subprotocol an exec upgrade may negotiate ("" = none offered)."""
        return (*((V5,) if self.serves_v5 else ()), *EXEC_WS_V4, "")

    def info(self) -> dict[str, Any]:
        """The ``/version`` document."""
        return {
            "major": str(self.major),
            "minor": str(self.minor),
            "gitVersion": self.git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.23.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }


def negotiate(offered: list[str], accepted: tuple[str, ...]) -> str | None:
    """The subprotocol Go's x/net/websocket picks: the client's first accepted one; "" when
    the client offered none (and the server accepts that); None means 403."""
    for proto in offered or [""]:
        if proto in accepted:
            return proto
    return None


def offered_protocols(header: str) -> list[str]:
    return [p.strip() for p in header.split(",") if p.strip()]
