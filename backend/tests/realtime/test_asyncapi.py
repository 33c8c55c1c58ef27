"""The AsyncAPI document: valid AsyncAPI 3.0, complete, every reference resolvable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from app.realtime.asyncapi import build, error_codes
from app.states import build_registry
from tests.realtime.apps import registry_with_test_states

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "asyncapi-3.0.0.schema.json").read_text())


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


@pytest.mark.parametrize(
    "registry", [build_registry(), registry_with_test_states()], ids=["app", "with-test-states"]
)
def test_document_is_valid_asyncapi_3(registry: Any) -> None:
    doc = build(registry, title="Chat")
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(doc)
    ]
    assert errors == []
    for ref in refs(doc):
        resolve(doc, ref)  # KeyError if dangling


def test_document_lists_every_state_event_and_code() -> None:
    registry = registry_with_test_states()
    doc = build(registry, title="Chat")
    received = {name for name, op in doc["operations"].items() if op["action"] == "receive"}
    sent = {name for name, op in doc["operations"].items() if op["action"] == "send"}
    assert received == {state.name for state in registry} | {"authenticate"}
    assert sent == {f"{name}Event" for name in registry.events}
    assert doc["operations"]["guarded"]["x-requires"] == ["flag_set"]
    assert (
        set(doc["components"]["schemas"]["ErrorCode"]["enum"])
        == set(error_codes())
        >= {
            "unauthorized",
            "too_many_connections",
            "invalid_json",
            "invalid_request",
            "unknown_state",
            "invalid_data",
            "invalid_state",
            "forbidden",
            "not_found",
            "conflict",
            "rate_limited",
            "token_expired",
            "internal_error",
        }
    )
    send = doc["components"]["messages"]["sendMessage.request"]["payload"]["properties"]["data"]
    fields = resolve(doc, send["$ref"])["properties"]
    assert fields["text"]["maxLength"] == 4000
    assert doc["components"]["securitySchemes"]["accessToken"]["scheme"] == "bearer"


async def test_served_document_and_page(http: httpx.AsyncClient) -> None:
    served = await http.get("/api/v1/socket/asyncapi.json")
    assert served.status_code == 200
    doc = served.json()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["servers"]["app"]["host"] == http.base_url.netloc.decode()
    page = await http.get("/api/v1/socket/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name in ("sendMessage", "joinRoom", "presence", "token_expired", "4001"):
        assert name in page.text
    assert "<script" not in page.text and "http://" not in page.text.split("<details>")[0].replace(
        doc["servers"]["app"]["host"], ""
    )
