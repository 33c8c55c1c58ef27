"""The socket protocol as an AsyncAPI 3.0 document, generated from the state registry.

One channel (`/api/v1/socket`); for every state an operation the app
*receives* (the request) with a reply (the reply frame, or the error frame);
for every event an operation the app *sends*; the token handshake as the
`authenticate` operation and the security scheme. Model schemas come from
pydantic and live under `components.schemas`. The same document feeds the
HTML page at `/api/v1/socket/docs` and the TypeScript generator.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app.realtime import errors
from app.realtime.registry import Registry

CHANNEL = "socket"
ADDRESS = "/api/v1/socket"
REF = "#/components/schemas/{model}"

CLOSE_CODES = {
    1000: "after the reply to `close`",
    1001: "the server is shutting down; in-flight replies are sent first",
    1008: "authentication failed (handshake or reauth), or too many connections",
    1009: "a frame above SOCKET_MAX_MESSAGE_BYTES",
    1013: "the connection's send queue overflowed (a client that stopped reading)",
    4001: "token_expired: refresh the access token and reconnect",
}


def error_codes() -> list[str]:
    codes: list[str] = []
    pending: list[type[errors.SocketError]] = [errors.SocketError]
    while pending:
        for cls in pending.pop(0).__subclasses__():
            if cls.__module__ == errors.__name__ and cls.code not in codes:
                codes.append(cls.code)
            pending.append(cls)
    return codes


def _schemas(
    registry: Registry,
) -> tuple[dict[str, Any], dict[tuple[type[BaseModel], JsonSchemaMode], Any]]:
    """Every model's schema under components, and a ref for each (model, mode) used."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for state in registry:
        wanted.append((state.request, "validation"))
        if state.reply is not None:
            wanted.append((state.reply, "serialization"))
    for event in registry.events.values():
        wanted.append((event.model, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    by_model: dict[tuple[type[BaseModel], JsonSchemaMode], Any] = {}
    for (model, mode), ref in refs.items():
        if isinstance(model, type) and issubclass(model, BaseModel):
            by_model[(model, mode)] = ref
    return dict(top.get("$defs", {})), by_model


def _frame(
    state: str | None,
    data: dict[str, Any] | None,
    *,
    with_id: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if state is not None:
        properties["state"] = {"type": "string", "const": state}
    if data is not None:
        properties["data"] = data
    if with_id:
        properties["id"] = {"$ref": "#/components/schemas/RequestId"}
    properties |= extra or {}
    return {
        "type": "object",
        "properties": properties,
        "required": [k for k in ("state", "data") if k in properties],
    }


def build(
    registry: Registry, *, title: str, host: str = "localhost:8000", protocol: str = "ws"
) -> dict[str, Any]:
    schemas, refs = _schemas(registry)
    schemas["RequestId"] = {
        "description": "Echoed on the reply: a string (≤ 128 characters) or an integer (< 2^53).",
        "oneOf": [{"type": "string", "maxLength": 128}, {"type": "integer"}],
    }
    schemas["ErrorCode"] = {"type": "string", "enum": error_codes()}
    schemas["UserSummary"] = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "full_name": {"type": "string"},
        },
        "required": ["id", "email", "full_name"],
    }
    messages: dict[str, Any] = {
        "authenticate": {
            "name": "authenticate",
            "title": "Token (first message)",
            "summary": "The first client message, within SOCKET_AUTH_TIMEOUT seconds.",
            "payload": {
                "type": "object",
                "properties": {"token": {"type": "string"}},
                "required": ["token"],
            },
        },
        "initialised": {
            "name": "initialised",
            "summary": "The handshake succeeded.",
            "payload": _frame(
                "initialised",
                {
                    "type": "object",
                    "properties": {
                        "user": {"$ref": "#/components/schemas/UserSummary"},
                        "session": {"type": "string"},
                    },
                    "required": ["user", "session"],
                },
                with_id=False,
            ),
        },
        "error": {
            "name": "error",
            "summary": "The answer to a request that failed, or to a failed handshake.",
            "payload": {
                "type": "object",
                "properties": {
                    "state": {"type": "string", "const": "error"},
                    "error": {"type": "string", "description": "A human-readable message."},
                    "code": {"$ref": "#/components/schemas/ErrorCode"},
                    "request": {"type": ["string", "null"], "description": "The request's state."},
                    "id": {"$ref": "#/components/schemas/RequestId"},
                    "details": {
                        "type": "array",
                        "description": "Only for invalid_data: pydantic's errors.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                                "type": {"type": "string"},
                                "msg": {"type": "string"},
                            },
                        },
                    },
                },
                "required": ["state", "error", "code", "request"],
            },
        },
    }
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}

    def message_ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/channels/{CHANNEL}/messages/{name}"}

    operations: dict[str, Any] = {
        "authenticate": {
            "action": "receive",
            "channel": channel_ref,
            "summary": "Authenticate the connection with an access token.",
            "messages": [message_ref("authenticate")],
            "reply": {
                "channel": channel_ref,
                "messages": [message_ref("initialised"), message_ref("error")],
            },
        }
    }
    for state in registry:
        request_key, reply_key = f"{state.name}.request", f"{state.name}.reply"
        request_data = refs[(state.request, "validation")]
        reply_data = (
            refs[(state.reply, "serialization")]
            if state.reply is not None
            else {"type": "object", "properties": {}}
        )
        messages[request_key] = {
            "name": state.name,
            "title": f"{state.name} request",
            "summary": state.summary or state.name,
            "payload": _frame(state.name, request_data, with_id=True),
        }
        messages[reply_key] = {
            "name": state.name,
            "title": f"{state.name} reply",
            "payload": _frame(state.name, reply_data, with_id=True),
        }
        description = state.summary
        if state.requires:
            names = ", ".join(guard.name for guard in state.requires)
            description += f"\n\nRequires: {names} (otherwise `invalid_state`)."
        operations[state.name] = {
            "action": "receive",
            "channel": channel_ref,
            "summary": state.summary or state.name,
            "description": description.strip() or state.name,
            "messages": [message_ref(request_key)],
            "reply": {
                "channel": channel_ref,
                "messages": [message_ref(reply_key), message_ref("error")],
            },
            "x-requires": [guard.name for guard in state.requires],
        }
    for event in registry.events.values():
        key = f"{event.name}.event"
        messages[key] = {
            "name": event.name,
            "title": f"{event.name} event",
            "summary": event.summary or event.name,
            "payload": _frame(event.name, refs[(event.model, "serialization")], with_id=False),
        }
        operations[f"{event.name}Event"] = {
            "action": "send",
            "channel": channel_ref,
            "summary": event.summary or event.name,
            "messages": [message_ref(key)],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"{title} socket",
            "version": "1",
            "description": (
                "Every frame is a JSON object `{state, data}`. Requests carry an optional `id`, "
                "echoed on their reply or error; events never carry one. See docs/protocol.md."
            ),
            "x-close-codes": {str(code): meaning for code, meaning in CLOSE_CODES.items()},
        },
        "servers": {
            "app": {
                "host": host,
                "protocol": protocol,
                "pathname": ADDRESS,
                "security": [{"$ref": "#/components/securitySchemes/accessToken"}],
            }
        },
        "defaultContentType": "application/json",
        "channels": {
            CHANNEL: {
                "address": ADDRESS,
                "title": "The socket",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "accessToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "Not an HTTP header: the access token from POST /api/v1/login/access-token "
                        'is sent as the first message, {"token": "<JWT>"}. Anything else closes '
                        "with 1008."
                    ),
                }
            },
        },
    }
