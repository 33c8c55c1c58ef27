"""Settings every benchmarked server shares, and the app's production environment for the bench."""

from __future__ import annotations

from typing import Any

#: What `python -m app` passes to uvicorn with the default settings (see backend/app/__main__.py):
#: frames up to 1 MiB, protocol pings every 20 s with a 20 s timeout. The loop, HTTP parser and
#: WebSocket protocol are uvicorn's "auto" choices: uvloop, httptools, websockets (sans-I/O).
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "warning",
    "proxy_headers": True,
    "ws_max_size": 1 << 20,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
    "timeout_graceful_shutdown": 10,
}

#: The only browser origin the servers allow (clients here send none, as non-browser clients do).
ORIGIN = "http://127.0.0.1"

#: High enough that the per-connection limiter never refuses: the bench measures the engine.
RATE_LIMIT = "1000000"

#: Users the app's database gets; sockets are spread over them round-robin.
USERS = 20
PASSWORD = "bench-password-not-secret"  # throwaway users in a throwaway database


#: What every server runs with. MALLOC_ARENA_MAX as the app's production start (scripts/start.sh)
#: sets it; the baseline and the peer get it too, so memory is compared on equal terms.
SERVER_ENVIRONMENT = {"PYTHONUNBUFFERED": "1", "MALLOC_ARENA_MAX": "2"}


def app_environment(
    *,
    port: int,
    database_url: str,
    secret_key: str,
    data_dir: str,
    workers: int = 1,
    broadcast_url: str = "memory://",
    broadcast_prefix: str = "bench",
) -> dict[str, str]:
    """The environment `python -m app` runs with: production, plus the limits raised."""
    return {
        "ENVIRONMENT": "production",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "DATABASE_URL": database_url,
        "ALLOW_SQLITE_IN_PRODUCTION": "true",
        "BROADCAST_URL": broadcast_url,
        "BROADCAST_PREFIX": broadcast_prefix,
        "SECRET_KEY": secret_key,
        "DATA_DIR": data_dir,
        "ALLOWED_ORIGINS": ORIGIN,
        "LOG_LEVEL": "WARNING",
        "SOCKET_RATE_LIMIT": RATE_LIMIT,
        "SOCKET_RATE_BURST": RATE_LIMIT,
        "SOCKET_MAX_CONNECTIONS_PER_USER": "100000",
        "ACCESS_TOKEN_EXPIRE_MINUTES": "240",
    }
