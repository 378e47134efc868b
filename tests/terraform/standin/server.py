"""The stand-in provider process: a tfplugin6 gRPC server driven by a derived schema.

Terraform starts it like any provider (go-plugin handshake on stdout, TLS on a unix socket),
so ``terraform validate`` checks our configuration against the provider's published schema and
``plan``/``apply`` exercise the real core. Validation refuses a string outside the enum a schema
description states (schema_gen.py). Behaviour: plan marks unset computed attributes as
unknown and write-only attributes null; apply fills unknowns with deterministic fakes (IPs look
like 10.x.y.z); the ephemeral ``random_password`` returns a fresh cryptographic password.

Test evidence: when ``ENGLAB_STANDIN_RECORD`` names a file, each generated ephemeral value and
each write-only value the provider receives is appended to it as JSON, so tests can prove the
password reached Cloud SQL and Secret Manager and is absent from plan and state.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import os
import secrets
import string
import sys
import tempfile
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import msgpack
from msgpack.ext import ExtType
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
from tf.gen import tfplugin_pb2 as base_pb
from tf.runner import _self_signed_cert
from tf.types import Unknown

from .protocol import pb

_NESTING = {"single": 1, "list": 2, "set": 3, "map": 4, "group": 5}
_UNKNOWN_EXT = 0


def decode(value: Any) -> Any:
    """DynamicValue -> Python; plain unknowns become ``Unknown``, refined ones stay ExtType."""
    if value.json:
        return json.loads(value.json)
    if value.msgpack:
        return msgpack.unpackb(
            value.msgpack,
            ext_hook=lambda code, data: Unknown if code == _UNKNOWN_EXT else ExtType(code, data),
        )
    return None


def encode(value: Any) -> Any:
    """Python -> DynamicValue (msgpack), the encoding Terraform expects back."""
    packed = msgpack.packb(value, default=lambda o: ExtType(_UNKNOWN_EXT, b"\x00") if o is Unknown else o)
    return pb.DynamicValue(msgpack=packed)


def _is_unknown(value: Any) -> bool:
    return value is Unknown or isinstance(value, ExtType)


def block_to_pb(block: dict[str, Any]) -> Any:
    """Schema JSON block -> protobuf Schema.Block."""
    out = pb.Schema.Block()
    for name in sorted(block.get("attributes", {})):
        attr = block["attributes"][name]
        out.attributes.add(
            name=name,
            type=json.dumps(attr["type"]).encode(),
            required=attr.get("required", False),
            optional=attr.get("optional", False),
            computed=attr.get("computed", False),
            sensitive=attr.get("sensitive", False),
            write_only=attr.get("write_only", False),
        )
    for name in sorted(block.get("block_types", {})):
        nested = block["block_types"][name]
        out.block_types.add(
            type_name=name,
            block=block_to_pb(nested["block"]),
            nesting=_NESTING[nested["nesting_mode"]],
            min_items=nested.get("min_items", 0),
            max_items=nested.get("max_items", 0),
        )
    return out


def schema_response_bytes(schema: dict[str, Any]) -> bytes:
    """The whole GetProviderSchema answer, serialised once and cached beside the JSON."""
    resp = pb.GetProviderSchema.Response()
    resp.provider.block.CopyFrom(block_to_pb(schema["provider"]["block"]))
    resp.provider_meta.block.CopyFrom(pb.Schema.Block())
    resp.server_capabilities.plan_destroy = True
    resp.server_capabilities.get_provider_schema_optional = True
    for kind in ("resource_schemas", "data_source_schemas", "ephemeral_resource_schemas"):
        target = getattr(resp, kind)
        for name, entry in schema[kind].items():
            target[name].version = entry.get("version", 0)
            target[name].block.CopyFrom(block_to_pb(entry["block"]))
    return resp.SerializeToString()


class Faker:
    """Deterministic stand-ins for values only the cloud would know."""

    def __init__(self, seed: str) -> None:
        self.seed = seed

    def _hash(self, path: str) -> bytes:
        return hashlib.sha256(f"{self.seed}/{path}".encode()).digest()

    def value(self, cty: Any, path: str) -> Any:  # noqa: PLR0911 - one return per cty type
        name = path.rsplit(".", 1)[-1]
        if cty == "string":
            return self.string(name, path)
        if cty == "number":
            return 1
        if cty == "bool":
            return False
        if isinstance(cty, list) and cty[0] in ("list", "set"):
            return []
        if isinstance(cty, list) and cty[0] == "map":
            return {}
        if isinstance(cty, list) and cty[0] == "object":
            return {k: self.value(t, f"{path}.{k}") for k, t in cty[1].items()}
        return None

    def string(self, name: str, path: str) -> str:
        digest = self._hash(path)
        if name == "instance_id":  # Compute Engine's numeric id: an unsigned 64-bit decimal string
            return str(int.from_bytes(digest[:8], "big") % 10**19 + 10**18)
        if name in {"address", "nat_ip", "gateway_address"} or name.endswith(("_ip", "ip_address")):
            return f"10.{digest[0] % 200 + 20}.{digest[1]}.{digest[2] % 250 + 2}"
        if name == "email" or name.endswith("_email"):
            return f"standin-{digest.hex()[:8]}@standin-project.iam.gserviceaccount.com"
        if name.endswith(("_time", "_timestamp")):
            return "2025-01-01T00:00:00Z"
        if name.endswith("link"):
            return f"https://www.googleapis.com/standin/{digest.hex()[:16]}"
        return f"standin-{digest.hex()[:16]}"


def fill(cty: Any, value: Any, faker: Faker, path: str) -> Any:
    """Replace every unknown inside a typed value with a fake."""
    if _is_unknown(value):
        return faker.value(cty, path)
    if value is None or not isinstance(cty, list):
        return value
    if cty[0] in ("list", "set"):
        return [fill(cty[1], v, faker, f"{path}.{i}") for i, v in enumerate(value)]
    if cty[0] == "map":
        return {k: fill(cty[1], v, faker, f"{path}.{k}") for k, v in value.items()}
    if cty[0] == "object":
        return {k: fill(t, value.get(k), faker, f"{path}.{k}") for k, t in cty[1].items()}
    return value


def walk_block(block: dict[str, Any], value: dict[str, Any], visit: Any, path: str = "") -> None:
    """Call ``visit(attr_schema, obj, name, path)`` on every attribute, descending into blocks."""
    for name, attr in block.get("attributes", {}).items():
        visit(attr, value, name, f"{path}{name}")
    for name, nested in block.get("block_types", {}).items():
        inner = value.get(name)
        if inner is None or _is_unknown(inner):
            continue
        if nested["nesting_mode"] in ("single", "group"):
            walk_block(nested["block"], inner, visit, f"{path}{name}.")
        elif nested["nesting_mode"] == "map":
            for key, item in inner.items():
                if not _is_unknown(item):
                    walk_block(nested["block"], item, visit, f"{path}{name}.{key}.")
        else:
            for index, item in enumerate(inner):
                if not _is_unknown(item):
                    walk_block(nested["block"], item, visit, f"{path}{name}.{index}.")


def generate_password(config: dict[str, Any]) -> str:
    """random_password semantics: character classes, minimums, override_special."""
    classes = []
    specials = config.get("override_special") or "!@#$%&*()-_=+[]{}<>:?"
    for flag, chars, minimum in (
        ("lower", string.ascii_lowercase, "min_lower"),
        ("upper", string.ascii_uppercase, "min_upper"),
        ("numeric", string.digits, "min_numeric"),
        ("special", specials, "min_special"),
    ):
        if config.get(flag) is not False:
            classes.append((chars, int(config.get(minimum) or 0)))
    length = int(config["length"])
    chars = [secrets.choice(pool) for pool, minimum in classes for _unused in range(minimum)]
    alphabet = "".join(pool for pool, _unused in classes)
    chars += [secrets.choice(alphabet) for _unused in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


class StandIn:
    """tfplugin6 handlers for one provider, backed by its schema JSON."""

    def __init__(self, schema_path: Path, record: Path | None) -> None:
        self.schema_path = schema_path
        self.record_path = record
        self._schema: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    @property
    def schema(self) -> dict[str, Any]:
        if self._schema is None:
            self._schema = json.loads(self.schema_path.read_text())
        return self._schema

    def record(self, **entry: Any) -> None:
        if self.record_path is None:
            return
        with self._lock, self.record_path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")

    # ---- schema and configuration ----
    def get_metadata(self, request: Any, context: Any) -> Any:
        return base_pb.GetMetadata.Response(
            server_capabilities=base_pb.ServerCapabilities(
                plan_destroy=True, get_provider_schema_optional=True
            )
        )

    def get_provider_schema(self, request: Any, context: Any) -> bytes:
        cached = self.schema_path.with_suffix(".pb")
        if not cached.exists() or cached.stat().st_mtime < self.schema_path.stat().st_mtime:
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(schema_response_bytes(self.schema))
            tmp.replace(cached)
        return cached.read_bytes()

    def no_diagnostics(self, response: Any) -> Any:
        return lambda request, context: response()

    def validate_resource_config(self, request: Any, context: Any) -> Any:
        """Refuse a known string outside the attribute's enum, as the provider's StringInSlice does."""
        resp = pb.ValidateResourceConfig.Response()
        entry = self.schema["resource_schemas"].get(request.type_name)
        config = decode(request.config)
        if entry is None or not isinstance(config, dict):
            return resp

        def visit(attr: dict[str, Any], obj: dict[str, Any], name: str, path: str) -> None:
            value = obj.get(name)
            allowed = attr.get("enum")
            if allowed and isinstance(value, str) and value not in allowed:
                resp.diagnostics.add(
                    severity=1,
                    summary=f"Invalid value for {path}",
                    detail=f"{request.type_name}: {path} must be one of {', '.join(allowed)}; got {json.dumps(value)}.",
                )

        walk_block(entry["block"], config, visit)
        return resp

    # ---- managed resources ----
    def upgrade_resource_state(self, request: Any, context: Any) -> Any:
        return pb.UpgradeResourceState.Response(upgraded_state=pb.DynamicValue(json=request.raw_state.json))

    def read_resource(self, request: Any, context: Any) -> Any:
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def plan_resource_change(self, request: Any, context: Any) -> Any:
        block = self.schema["resource_schemas"][request.type_name]["block"]
        prior = decode(request.prior_state)
        planned = decode(request.proposed_new_state)
        if planned is None:
            return pb.PlanResourceChange.Response(planned_state=encode(None))
        creating = prior is None

        def visit(attr: dict[str, Any], obj: dict[str, Any], name: str, path: str) -> None:
            if attr.get("write_only"):
                obj[name] = None
            elif creating and attr.get("computed") and obj.get(name) is None:
                obj[name] = Unknown

        walk_block(block, planned, visit)
        return pb.PlanResourceChange.Response(planned_state=encode(planned))

    def apply_resource_change(self, request: Any, context: Any) -> Any:
        block = self.schema["resource_schemas"][request.type_name]["block"]
        planned = decode(request.planned_state)
        if planned is None:
            return pb.ApplyResourceChange.Response(new_state=encode(None))
        config = decode(request.config) or {}
        # The first KNOWN identifying value: a service account's name is unknown until apply, so
        # its account_id tells the accounts apart (otherwise all would get the same e-mail).
        known = [planned.get(k) for k in ("name", "account_id") if not _is_unknown(planned.get(k))]
        seed = f"{request.type_name}/{next((k for k in known if k), '')}"
        faker = Faker(seed)

        def visit(attr: dict[str, Any], obj: dict[str, Any], name: str, path: str) -> None:
            obj[name] = None if attr.get("write_only") else fill(attr["type"], obj.get(name), faker, path)

        def collect(attr: dict[str, Any], obj: dict[str, Any], name: str, path: str) -> None:
            if attr.get("write_only") and obj.get(name) is not None:
                self.record(event="write_only", type=request.type_name, attribute=path, value=obj[name])

        walk_block(block, config, collect)
        new_state = copy.deepcopy(planned)
        walk_block(block, new_state, visit)
        return pb.ApplyResourceChange.Response(new_state=encode(new_state), private=request.planned_private)

    def import_resource_state(self, request: Any, context: Any) -> Any:
        resp = pb.ImportResourceState.Response()
        resp.diagnostics.add(severity=1, summary="The offline stand-in provider cannot import resources")
        return resp

    # ---- data sources ----
    def read_data_source(self, request: Any, context: Any) -> Any:
        block = self.schema["data_source_schemas"][request.type_name]["block"]
        state = decode(request.config)
        faker = Faker(f"data/{request.type_name}")

        def visit(attr: dict[str, Any], obj: dict[str, Any], name: str, path: str) -> None:
            value = obj.get(name)
            if attr.get("computed") and value is None:
                obj[name] = faker.value(attr["type"], path)
            else:
                obj[name] = fill(attr["type"], value, faker, path)

        walk_block(block, state, visit)
        return pb.ReadDataSource.Response(state=encode(state))

    # ---- ephemeral resources ----
    def open_ephemeral_resource(self, request: Any, context: Any) -> Any:
        config = decode(request.config)
        resp = pb.OpenEphemeralResource.Response()
        if request.type_name != "random_password":
            resp.diagnostics.add(
                severity=1, summary=f"{request.type_name} is not implemented by the stand-in"
            )
            return resp
        result = dict(config)
        for flag in ("lower", "upper", "numeric", "special"):
            result[flag] = config.get(flag) is not False
        for minimum in ("min_lower", "min_upper", "min_numeric", "min_special"):
            result[minimum] = config.get(minimum) or 0
        result["result"] = generate_password(config)
        result["bcrypt_hash"] = "$standin$" + hashlib.sha256(result["result"].encode()).hexdigest()
        self.record(event="ephemeral", type=request.type_name, value=result["result"])
        resp.result.CopyFrom(encode(result))
        return resp

    # ---- shutdown ----
    def stop_provider(self, request: Any, context: Any) -> Any:
        self.stopped.set()
        return pb.StopProvider.Response()


def _handlers(app: StandIn) -> dict[str, Any]:
    def unary(fn: Any, request_cls: Any, serializer: Any = None) -> Any:
        return grpc.unary_unary_rpc_method_handler(
            fn,
            request_deserializer=request_cls.FromString,
            response_serializer=serializer or (lambda message: message.SerializeToString()),
        )

    def ok(message_cls: Any) -> Any:
        return unary(lambda request, context: message_cls.Response(), message_cls.Request)

    return {
        "GetMetadata": unary(app.get_metadata, base_pb.GetMetadata.Request),
        "GetProviderSchema": unary(app.get_provider_schema, pb.GetProviderSchema.Request, lambda raw: raw),
        "ValidateProviderConfig": ok(pb.ValidateProviderConfig),
        "ValidateResourceConfig": unary(app.validate_resource_config, pb.ValidateResourceConfig.Request),
        "ValidateDataResourceConfig": ok(pb.ValidateDataResourceConfig),
        "ValidateEphemeralResourceConfig": ok(pb.ValidateEphemeralResourceConfig),
        "ConfigureProvider": ok(pb.ConfigureProvider),
        "UpgradeResourceState": unary(app.upgrade_resource_state, pb.UpgradeResourceState.Request),
        "ReadResource": unary(app.read_resource, pb.ReadResource.Request),
        "PlanResourceChange": unary(app.plan_resource_change, pb.PlanResourceChange.Request),
        "ApplyResourceChange": unary(app.apply_resource_change, pb.ApplyResourceChange.Request),
        "ImportResourceState": unary(app.import_resource_state, pb.ImportResourceState.Request),
        "ReadDataSource": unary(app.read_data_source, pb.ReadDataSource.Request),
        "OpenEphemeralResource": unary(app.open_ephemeral_resource, pb.OpenEphemeralResource.Request),
        "RenewEphemeralResource": ok(pb.RenewEphemeralResource),
        "CloseEphemeralResource": ok(pb.CloseEphemeralResource),
        "GetFunctions": ok(pb.GetFunctions),
        "StopProvider": unary(app.stop_provider, pb.StopProvider.Request),
    }


def serve(app: StandIn) -> None:
    """go-plugin server: tfplugin6 + GRPCController + GRPCStdio, handshake line on stdout."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", 256 << 20)],
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("tfplugin6.Provider", _handlers(app)),)
    )

    class Controller(controller_rpc.GRPCControllerServicer):
        def Shutdown(self, request: Any, context: Any) -> Any:
            app.stopped.set()
            return controller_pb.Empty()

    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)

    class Stdio(stdio_rpc.GRPCStdioServicer):
        def StreamStdio(self, request: Any, context: Any) -> Any:
            return iter([])

    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)

    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/standin.sock"
        cert_chain, credentials = _self_signed_cert()
        server.add_secure_port(f"unix://{sock}", credentials)
        server.start()
        handshake = "|".join(
            ["1", "6", "unix", sock, "grpc", base64.b64encode(cert_chain).decode().rstrip("=")]
        )
        sys.stdout.write(handshake + "\n")
        sys.stdout.flush()
        while not app.stopped.wait(0.05):
            pass
        server.stop(grace=0.2).wait()


def main() -> None:
    """Entry point used by the provider executable placed in the test's filesystem mirror."""
    parser = argparse.ArgumentParser(description="offline stand-in Terraform provider")
    parser.add_argument("--schema", type=Path, required=True)
    args = parser.parse_args()
    record = os.environ.get("ENGLAB_STANDIN_RECORD")
    serve(StandIn(args.schema, Path(record) if record else None))


if __name__ == "__main__":
    main()
