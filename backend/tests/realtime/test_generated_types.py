"""The committed TypeScript types match the backend's states (run `make types` when this fails)."""

from __future__ import annotations

import pytest

from app.core.config import REPO_DIR
from app.realtime.typescript import generate, ts_type
from app.states import build_registry

GENERATED = REPO_DIR / "frontend" / "src" / "interfaces" / "generated.ts"


def test_committed_types_are_fresh() -> None:
    if not GENERATED.exists():
        pytest.skip("the frontend has no generated.ts yet")
    assert GENERATED.read_text() == generate(build_registry()), (
        "frontend/src/interfaces/generated.ts is stale: run `make types` and commit it"
    )


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param({"type": "string"}, "string", id="string"),
        pytest.param({"type": "integer"}, "number", id="integer"),
        pytest.param(
            {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "number | null", id="nullable"
        ),
        pytest.param(
            {"type": "array", "items": {"$ref": "#/components/schemas/UserOut"}},
            "UserOut[]",
            id="array-of-ref",
        ),
        pytest.param(
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "(string | number)[]",
            id="array-of-union",
        ),
        pytest.param({"enum": ["a", "b"]}, '"a" | "b"', id="enum"),
        pytest.param({"const": "ping"}, '"ping"', id="const"),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "integer"}},
            "Record<string, number>",
            id="dict",
        ),
        pytest.param({"type": "object", "properties": {}}, "Record<string, never>", id="empty"),
        pytest.param(
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                "required": ["a"],
            },
            "{\n  a: string\n  b?: number\n}",
            id="object",
        ),
    ],
)
def test_schema_to_typescript(schema: dict[str, object], expected: str) -> None:
    assert ts_type(schema) == expected


def test_every_state_and_event_is_typed() -> None:
    text = generate(build_registry())
    for name in (
        "sendMessage: SendMessageIn",
        "sendMessage: SendMessageOut",
        "message: MessageOut",
        "pollVote: PollVoteIn",
        "pollResults: PollEvent",
        "typing: UserInRoom",
    ):
        assert f"  {name}\n" in text
