"""`GET /metrics` for Prometheus.

Open locally. In production it is off unless `METRICS_TOKEN` is set, and then
it asks for `Authorization: Bearer <METRICS_TOKEN>`. `METRICS_ENABLED=false`
turns it off everywhere.
"""

import secrets

from fastapi import APIRouter, HTTPException, Request, Response, status

from app.api.deps import SettingsDep
from app.core import metrics

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def read_metrics(request: Request, settings: SettingsDep) -> Response:
    if not settings.METRICS_ENABLED or (settings.is_production and not settings.METRICS_TOKEN):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    if settings.METRICS_TOKEN:
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {settings.METRICS_TOKEN}".encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Metrics token required.",
                headers={"WWW-Authenticate": "Bearer"},
            )
    healthy = await request.app.state.broadcaster.healthy()
    metrics.BROADCAST_UP.set(1 if healthy else 0)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
