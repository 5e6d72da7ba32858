"""Response headers of the API server proper (not of the kubelet's streaming server)."""

from __future__ import annotations

import uuid

FLOWSCHEMA_UID = str(uuid.uuid4())
PRIORITYLEVEL_UID = str(uuid.uuid4())


def api_headers() -> dict[str, str]:
    """The headers every answer of the API server itself carries (fact 17; the kubelet's
    upgrade refusals carry none, fact 6)."""
    return {
        "Audit-Id": str(uuid.uuid4()),
        "Cache-Control": "no-cache, private",
        "X-Kubernetes-Pf-Flowschema-Uid": FLOWSCHEMA_UID,
        "X-Kubernetes-Pf-Prioritylevel-Uid": PRIORITYLEVEL_UID,
    }
