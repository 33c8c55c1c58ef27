"""The socket protocol, documented from the registry: AsyncAPI JSON and a readable HTML page.

The page is rendered here, with no script and no CDN, so it works offline.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.realtime import asyncapi

router = APIRouter(prefix="/socket", tags=["socket"])

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2933 }
code { background: #f0f4f8; padding: 0 .25rem; border-radius: 3px }
section { border-top: 1px solid #d9e2ec; padding: .5rem 0 }
table { border-collapse: collapse }
td, th { border: 1px solid #d9e2ec; padding: .2rem .6rem; text-align: left }
.none { color: #829ab1 }
pre { background: #f0f4f8; padding: 1rem; overflow: auto; max-height: 30rem }
"""


def document(request: Request) -> dict[str, Any]:
    return asyncapi.build(
        request.app.state.registry,
        title=request.app.state.settings.PROJECT_NAME,
        host=request.url.netloc,
        protocol="wss" if request.url.scheme == "https" else "ws",
    )


@router.get("/asyncapi.json", summary="The socket protocol as an AsyncAPI 3.0 document")
async def asyncapi_json(request: Request) -> dict[str, Any]:
    return document(request)


@router.get("/docs", response_class=HTMLResponse, summary="The socket's states, readable")
async def socket_docs(request: Request) -> HTMLResponse:
    return HTMLResponse(render(document(request)))


def _schema_of(doc: dict[str, Any], node: dict[str, Any]) -> Any:
    ref = node.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return node


def _fields(doc: dict[str, Any], data: dict[str, Any]) -> str:
    schema = _schema_of(doc, data)
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return "<p class=none>no fields</p>"
    required = set(schema.get("required", []))
    rows = []
    for name, prop in properties.items():
        kind = prop.get("type") or prop.get("$ref", "").rsplit("/", 1)[-1] or "any"
        if "anyOf" in prop:
            kind = " | ".join(
                str(p.get("type") or p.get("$ref", "").rsplit("/", 1)[-1]) for p in prop["anyOf"]
            )
        if kind == "array":
            items = prop.get("items", {})
            kind = f"{items.get('type') or items.get('$ref', '').rsplit('/', 1)[-1]}[]"
        limits = ", ".join(
            f"{key} {prop[key]}"
            for key in ("minLength", "maxLength", "minimum", "maximum", "default")
            if key in prop
        )
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code>{'' if name in required else '?'}</td>"
            f"<td>{html.escape(str(kind))}</td><td>{html.escape(limits)}</td></tr>"
        )
    return "<table><tr><th>field</th><th>type</th><th>limits</th></tr>" + "".join(rows) + "</table>"


def render(doc: dict[str, Any]) -> str:
    messages = doc["components"]["messages"]
    sections = []
    for name, operation in doc["operations"].items():
        if operation["action"] != "receive" or name == "authenticate":
            continue
        request = messages[f"{name}.request"]["payload"]["properties"]["data"]
        reply = messages[f"{name}.reply"]["payload"]["properties"]["data"]
        requires = operation.get("x-requires") or []
        guard = f"<p>Requires: {html.escape(', '.join(requires))}</p>" if requires else ""
        sections.append(
            f"<section id='{html.escape(name)}'><h3><code>{html.escape(name)}</code></h3>"
            f"<p>{html.escape(operation['summary'])}</p>{guard}"
            f"<h4>data</h4>{_fields(doc, request)}<h4>reply</h4>{_fields(doc, reply)}</section>"
        )
    events = []
    for name, operation in doc["operations"].items():
        if operation["action"] == "send":
            event = name.removesuffix("Event")
            data = messages[f"{event}.event"]["payload"]["properties"]["data"]
            anchor = html.escape(event)
            events.append(
                f"<section id='event-{anchor}'><h3><code>{anchor}</code></h3>"
                f"<p>{html.escape(operation['summary'])}</p>{_fields(doc, data)}</section>"
            )
    codes = "".join(
        f"<li><code>{html.escape(c)}</code></li>"
        for c in doc["components"]["schemas"]["ErrorCode"]["enum"]
    )
    closes = "".join(
        f"<li><code>{html.escape(code)}</code> {html.escape(text)}</li>"
        for code, text in doc["info"]["x-close-codes"].items()
    )
    title = html.escape(doc["info"]["title"])
    raw = html.escape(json.dumps(doc, indent=2))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style></head><body>
<h1>{title}</h1>
<p>Connect to <code>{html.escape(doc["channels"]["socket"]["address"])}</code>, send
<code>{{"token": "&lt;access JWT&gt;"}}</code>, receive <code>initialised</code>; then send
<code>{{"state", "data", "id"}}</code> requests.
Machine-readable: <a href="asyncapi.json">asyncapi.json</a>.</p>
<h2>States</h2>{"".join(sections)}
<h2>Events</h2>{"".join(events)}
<h2>Error codes</h2><ul>{codes}</ul>
<h2>Close codes</h2><ul>{closes}</ul>
<details><summary>AsyncAPI document</summary><pre>{raw}</pre></details>
</body></html>"""
