"""tfplugin6 messages: the ``tf`` package's descriptors plus what Terraform 1.11 added.

``tf==1.2.0`` ships protocol 6 messages up to functions and MoveResourceState, but not
ephemeral resources (protocol 6.7) nor write-only attributes (6.8/6.9). Rather than vendoring
a generated stub, the shipped file descriptor is extended here with exactly those fields and
messages, using the field numbers of Terraform's published tfplugin6.9 protocol.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tf.gen import tfplugin_pb2

_F = descriptor_pb2.FieldDescriptorProto
_PKG = ".tfplugin6."


def _field(
    msg: Any, name: str, number: int, kind: int, type_name: str = "", *, repeated: bool = False
) -> None:
    field = msg.field.add(name=name, number=number, type=kind)
    field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name:
        field.type_name = _PKG + type_name


def _nested(msg: Any, name: str) -> Any:
    return next(n for n in msg.nested_type if n.name == name)


def _request_response(fdp: Any, name: str) -> tuple[Any, Any]:
    msg = fdp.message_type.add(name=name)
    return msg.nested_type.add(name="Request"), msg.nested_type.add(name="Response")


def _build() -> SimpleNamespace:
    fdp = descriptor_pb2.FileDescriptorProto.FromString(tfplugin_pb2.DESCRIPTOR.serialized_pb)
    fdp.name = "englab_standin_tfplugin6.proto"
    fdp.ClearField("service")
    top = {m.name: m for m in fdp.message_type}

    _field(_nested(top["Schema"], "Attribute"), "write_only", 11, _F.TYPE_BOOL)

    response = _nested(top["GetProviderSchema"], "Response")
    entry = response.nested_type.add()
    entry.CopyFrom(_nested(response, "ResourceSchemasEntry"))
    entry.name = "EphemeralResourceSchemasEntry"
    _field(
        response,
        "ephemeral_resource_schemas",
        8,
        _F.TYPE_MESSAGE,
        "GetProviderSchema.Response.EphemeralResourceSchemasEntry",
        repeated=True,
    )

    req, resp = _request_response(fdp, "ValidateEphemeralResourceConfig")
    _field(req, "type_name", 1, _F.TYPE_STRING)
    _field(req, "config", 2, _F.TYPE_MESSAGE, "DynamicValue")
    _field(resp, "diagnostics", 1, _F.TYPE_MESSAGE, "Diagnostic", repeated=True)

    req, resp = _request_response(fdp, "OpenEphemeralResource")
    _field(req, "type_name", 1, _F.TYPE_STRING)
    _field(req, "config", 2, _F.TYPE_MESSAGE, "DynamicValue")
    _field(resp, "diagnostics", 1, _F.TYPE_MESSAGE, "Diagnostic", repeated=True)
    _field(resp, "result", 3, _F.TYPE_MESSAGE, "DynamicValue")
    _field(resp, "private", 4, _F.TYPE_BYTES)

    req, resp = _request_response(fdp, "RenewEphemeralResource")
    _field(req, "type_name", 1, _F.TYPE_STRING)
    _field(req, "private", 2, _F.TYPE_BYTES)
    _field(resp, "diagnostics", 1, _F.TYPE_MESSAGE, "Diagnostic", repeated=True)
    _field(resp, "private", 3, _F.TYPE_BYTES)

    req, resp = _request_response(fdp, "CloseEphemeralResource")
    _field(req, "type_name", 1, _F.TYPE_STRING)
    _field(req, "private", 2, _F.TYPE_BYTES)
    _field(resp, "diagnostics", 1, _F.TYPE_MESSAGE, "Diagnostic", repeated=True)

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    classes = message_factory.GetMessages([fdp], pool=pool)
    names = {full.removeprefix("tfplugin6."): cls for full, cls in classes.items()}
    return SimpleNamespace(**{name.replace(".", "_"): cls for name, cls in names.items()})


pb = _build()
