"""Protobuf request bodies (kubectl 1.32's typed creates, kubectl#2/#93/#94/#117) -> JSON objects.

kubectl sends ``Content-Type: application/vnd.kubernetes.protobuf`` for ``create namespace``,
``create configmap`` and ``create secret`` and has no fallback when a server answers 415, so the
fake decodes them. The messages are declared here with the field numbers of Kubernetes'
``generated.proto`` (only the kinds kubectl creates this way; others still get 415) and decoded
by Google's ``protobuf`` runtime. Bodies are the ``k8s\\0`` magic + a ``runtime.Unknown``
envelope whose ``raw`` holds the object.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, json_format, message_factory
from google.protobuf.message import DecodeError, Message

MAGIC = b"k8s\x00"
PKG = "fakekube"
F = descriptor_pb2.FieldDescriptorProto
STRING, BYTES, BOOL, INT64, MSG = (
    F.TYPE_STRING,
    F.TYPE_BYTES,
    F.TYPE_BOOL,
    F.TYPE_INT64,
    F.TYPE_MESSAGE,
)
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED

# message -> [(json name, number, type, label, message type or "")]
Fields = list[tuple[str, int, int, int, str]]
MESSAGES: dict[str, Fields] = {
    "TypeMeta": [("apiVersion", 1, STRING, OPT, ""), ("kind", 2, STRING, OPT, "")],
    "Unknown": [
        ("typeMeta", 1, MSG, OPT, "TypeMeta"),
        ("raw", 2, BYTES, OPT, ""),
        ("contentEncoding", 3, STRING, OPT, ""),
        ("contentType", 4, STRING, OPT, ""),
    ],
    "OwnerReference": [
        ("kind", 1, STRING, OPT, ""),
        ("name", 3, STRING, OPT, ""),
        ("uid", 4, STRING, OPT, ""),
        ("apiVersion", 5, STRING, OPT, ""),
        ("controller", 6, BOOL, OPT, ""),
        ("blockOwnerDeletion", 7, BOOL, OPT, ""),
    ],
    "ObjectMeta": [
        ("name", 1, STRING, OPT, ""),
        ("generateName", 2, STRING, OPT, ""),
        ("namespace", 3, STRING, OPT, ""),
        ("labels", 11, MSG, REP, "ObjectMeta.LabelsEntry"),
        ("annotations", 12, MSG, REP, "ObjectMeta.AnnotationsEntry"),
        ("ownerReferences", 13, MSG, REP, "OwnerReference"),
        ("finalizers", 14, STRING, REP, ""),
    ],
    "NamespaceSpec": [("finalizers", 1, STRING, REP, "")],
    "Namespace": [("metadata", 1, MSG, OPT, "ObjectMeta"), ("spec", 2, MSG, OPT, "NamespaceSpec")],
    "ConfigMap": [
        ("metadata", 1, MSG, OPT, "ObjectMeta"),
        ("data", 2, MSG, REP, "ConfigMap.DataEntry"),
        ("binaryData", 3, MSG, REP, "ConfigMap.BinaryDataEntry"),
        ("immutable", 4, BOOL, OPT, ""),
    ],
    "Secret": [
        ("metadata", 1, MSG, OPT, "ObjectMeta"),
        ("data", 2, MSG, REP, "Secret.DataEntry"),
        ("type", 3, STRING, OPT, ""),
        ("stringData", 4, MSG, REP, "Secret.StringDataEntry"),
        ("immutable", 5, BOOL, OPT, ""),
    ],
    "LocalObjectReference": [("name", 1, STRING, OPT, "")],
    "ServiceAccount": [
        ("metadata", 1, MSG, OPT, "ObjectMeta"),
        ("imagePullSecrets", 3, MSG, REP, "LocalObjectReference"),
        ("automountServiceAccountToken", 4, BOOL, OPT, ""),
    ],
}
# map fields: (message, entry name) -> value type
MAPS = {
    ("ObjectMeta", "LabelsEntry"): STRING,
    ("ObjectMeta", "AnnotationsEntry"): STRING,
    ("ConfigMap", "DataEntry"): STRING,
    ("ConfigMap", "BinaryDataEntry"): BYTES,
    ("Secret", "DataEntry"): BYTES,
    ("Secret", "StringDataEntry"): STRING,
}
KINDS = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount")}


class Unsupported(Exception):
    """A protobuf body the fake cannot decode (answered with 415)."""


def _field(name: str, number: int, ftype: int, label: int, type_name: str) -> F:
    out = F(name=name, json_name=name, number=number, type=ftype, label=label)
    if type_name:
        out.type_name = f".{PKG}.{type_name}"
    return out


@cache
def _classes() -> dict[str, type[Message]]:
    fdp = descriptor_pb2.FileDescriptorProto(name="fakekube_k8s.proto", package=PKG)
    fdp.syntax = "proto2"
    for msg, fields in MESSAGES.items():
        mdp = fdp.message_type.add(name=msg)
        mdp.field.extend(_field(*f) for f in fields)
        for (owner, entry), vtype in MAPS.items():
            if owner == msg:
                nested = mdp.nested_type.add(name=entry)
                nested.options.map_entry = True
                nested.field.extend(
                    [_field("key", 1, STRING, OPT, ""), _field("value", 2, vtype, OPT, "")]
                )
    classes = message_factory.GetMessages([fdp])
    return {name.removeprefix(f"{PKG}."): cls for name, cls in classes.items()}


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object, or Unsupported."""
    if not body.startswith(MAGIC):
        raise Unsupported("missing the k8s protobuf magic")
    classes = _classes()
    try:
        envelope = classes["Unknown"].FromString(body[len(MAGIC) :])
    except DecodeError as exc:
        raise Unsupported(str(exc)) from exc
    api_version = envelope.typeMeta.apiVersion  # type: ignore[attr-defined]
    kind = envelope.typeMeta.kind  # type: ignore[attr-defined]
    if (api_version, kind) not in KINDS:
        raise Unsupported(f"{api_version} {kind}")
    try:
        obj = classes[kind].FromString(envelope.raw)  # type: ignore[attr-defined]
    except DecodeError as exc:
        raise Unsupported(str(exc)) from exc
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    out.update(json_format.MessageToDict(obj, preserving_proto_field_name=True))
    return _omit_empty(out)


def _omit_empty(value: Any) -> Any:
    """Go's gogo-protobuf writes empty strings; the JSON form omits them (``omitempty``)."""
    if isinstance(value, dict):
        return {k: _omit_empty(v) for k, v in value.items() if v != ""}
    return value


@cache
def _openapi_v2_classes() -> dict[str, type[Message]]:
    """gnostic's ``openapi.v2.Document`` (swagger=1, info=2), the parts a client needs."""
    fdp = descriptor_pb2.FileDescriptorProto(name="fakekube_openapi_v2.proto", package=PKG)
    fdp.syntax = "proto3"
    info = fdp.message_type.add(name="Info")
    info.field.extend([_field("title", 1, STRING, OPT, ""), _field("version", 2, STRING, OPT, "")])
    doc = fdp.message_type.add(name="Document")
    doc.field.extend([_field("swagger", 1, STRING, OPT, ""), _field("info", 2, MSG, OPT, "Info")])
    classes = message_factory.GetMessages([fdp])
    return {name.removeprefix(f"{PKG}."): cls for name, cls in classes.items()}


def openapi_v2_document(title: str, version: str) -> bytes:
    """``/openapi/v2`` as protobuf (kubectl 1.28 asks only that, kubectl-dispatcher#6): a
    document without definitions, so kubectl validates server-side (``fieldValidation``)."""
    classes = _openapi_v2_classes()
    doc = classes["Document"]()
    doc.swagger = "2.0"  # type: ignore[attr-defined]
    doc.info.title = title  # type: ignore[attr-defined]
    doc.info.version = version  # type: ignore[attr-defined]
    return bytes(doc.SerializeToString())
