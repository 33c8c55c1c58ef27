"""Liveness and readiness in one: 200 when the database answers, 503 when it does not."""

from typing import Any

from fastapi import APIRouter, Request, Response, status

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(request: Request, response: Response) -> dict[str, Any]:
    database_ok = await request.app.state.database.ping()
    broadcast_ok = await request.app.state.broadcaster.healthy()
    if not database_ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {
        "status": "ok" if database_ok and broadcast_ok else "degraded",
        "database": "ok" if database_ok else "unavailable",
        "broadcast": "ok" if broadcast_ok else "unavailable",
    }
