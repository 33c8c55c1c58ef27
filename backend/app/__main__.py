"""`python -m app`: serve the app with uvicorn, configured from the settings.

`make run` and the production start script both come through here, so the
socket's ping interval, frame size limit and worker count always follow the
settings.
"""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from app.core.config import Settings


def main() -> None:
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"Refusing to start: {exc}")
    uvicorn.run(
        "app.main:app",
        host=settings.HOST,
        port=settings.PORT,
        workers=settings.WEB_CONCURRENCY,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
        ws_max_size=max(settings.SOCKET_MAX_MESSAGE_BYTES * 4, 1 << 20),
        ws_ping_interval=settings.SOCKET_PING_INTERVAL,
        ws_ping_timeout=settings.SOCKET_PING_TIMEOUT,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
