"""Accept-header negotiation as the real server does it (406s, aggregated discovery, ETags)."""

from __future__ import annotations

import hashlib
import json
import time
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from aiohttp import web

from .errors import ApiError

SERVED = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in (accept or "*/*").split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        out.append((fields[0].lower(), params))
    return out


def check_acceptable(accept: str) -> None:
    """discovery#19: ``Accept: text/html`` on an API path -> 406 NotAcceptable."""
    for mtype, _ in media_ranges(accept):
        if mtype in ("*/*", "application/*") or mtype in SERVED:
            return
    raise ApiError(
        406,
        "NotAcceptable",
        "406: Not Acceptable\n\nAvailable representations: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf, application/json;stream=watch, "
        "application/vnd.kubernetes.protobuf;stream=watch",
        {},
    )


def wants_as(accept: str, as_kind: str) -> bool:
    """Whether the first JSON media range asking for a meta.k8s.io view asks for ``as_kind``."""
    for mtype, params in media_ranges(accept):
        if mtype == "application/json" and params.get("as"):
            return params.get("as") == as_kind
        if mtype == "application/json":
            return False
    return False


def discovery_kind(accept: str) -> str:
    """'aggregated' (v2beta1, what a 1.28 server serves), 'legacy', or 406 (kubectl#5, discovery#6).

    A 1.28 server has no ``v2``: a client asking only v2 gets 406; one that also lists
    plain JSON gets the legacy document."""
    asked_aggregated = False
    for mtype, params in media_ranges(accept):
        if mtype == "application/json" and params.get("as") == "APIGroupDiscoveryList":
            asked_aggregated = True
            if params.get("v") == "v2beta1" and params.get("g") == "apidiscovery.k8s.io":
                return "aggregated"
            continue
        if mtype in ("*/*", "application/*") or mtype in SERVED:
            return "legacy"
    if asked_aggregated:
        raise ApiError(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf",
        )
    check_acceptable(accept)
    return "legacy"


def etagged(
    request: web.Request, body: Any, content_type: str, cache: str = "public"
) -> web.Response:
    """A document with an ETag; ``If-None-Match`` with the same tag -> 304 (kubectl#21, #107)."""
    text = json.dumps(body, separators=(",", ":"))
    tag = '"' + hashlib.sha512(text.encode()).hexdigest().upper() + '"'
    headers = {"ETag": tag, "Vary": "Accept", "Cache-Control": cache}
    if request.headers.get("If-None-Match") == tag:
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = content_type
    return web.Response(body=text.encode(), headers=headers)


_FIRST_SEEN: dict[str, float] = {}


def last_modified(request: web.Request, body: Any, content_type: str) -> web.Response:
    """A document with Last-Modified (when this content was first served); a client's
    ``If-Modified-Since`` at or after it -> 304 (``/openapi/v3``, kubectl#3/#21)."""
    text = json.dumps(body, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    seen = _FIRST_SEEN.setdefault(digest, float(int(time.time())))
    headers = {"Last-Modified": formatdate(seen, usegmt=True), "Cache-Control": "no-cache, private"}
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            if parsedate_to_datetime(since).timestamp() >= seen:
                return web.Response(status=304, headers=headers)
        except (TypeError, ValueError):
            pass
    headers["Content-Type"] = content_type
    return web.Response(body=text.encode(), headers=headers)
