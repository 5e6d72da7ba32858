"""Kubernetes ``Status`` errors, formatted the way the real API server sends them."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API failure that becomes a ``Status`` body with the matching HTTP code."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(group: str, plural: str, name: str) -> dict[str, Any]:
    return (
        {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}
    )


def _qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    msg = f'{_qualified(group, plural)} "{name}" not found'
    return ApiError(404, "NotFound", msg, _details(group, plural, name))


def already_exists(group: str, plural: str, name: str) -> ApiError:
    msg = f'{_qualified(group, plural)} "{name}" already exists'
    return ApiError(409, "AlreadyExists", msg, _details(group, plural, name))


def conflict(group: str, plural: str, name: str) -> ApiError:
    msg = (
        f'Operation cannot be fulfilled on {_qualified(group, plural)} "{name}": the object has '
        "been modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", msg, _details(group, plural, name))


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 with one cause per (field, message), like apiserver validation."""
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    details = {
        "name": name,
        "group": group,
        "kind": kind,
        "causes": [
            {"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in causes
        ],
    }
    return ApiError(
        422,
        "Invalid",
        f'{kind}.{group or "core"} "{name}" is invalid: {text}'
        if group
        else f'{kind} "{name}" is invalid: {text}',
        details,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)
