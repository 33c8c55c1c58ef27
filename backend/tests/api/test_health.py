"""The health endpoint reports the database and the broadcaster."""

from __future__ import annotations

from collections.abc import Callable

import httpx


async def test_health_ok(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broadcast": "ok"}


async def test_health_503_when_database_unreachable(custom_server: Callable[..., object]) -> None:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:9/nothing"
    async with custom_server(DATABASE_URL=unreachable) as srv:  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=srv.url) as http:
            response = await http.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
