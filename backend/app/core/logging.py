"""Logging: readable lines locally, one JSON object a line in production.

Nothing here ever formats a token or a password; `RedactingFilter` is a
second line of defence that masks anything shaped like a JWT.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

#: The socket connection a log line belongs to; set by the socket endpoint.
connection_id: ContextVar[str] = ContextVar("connection_id", default="-")

JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class ContextFilter(logging.Filter):
    """Adds `record.connection`: the socket connection id, or "-" outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.connection = connection_id.get()
        return True


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "eyJ" in message:
            record.msg = JWT_PATTERN.sub("[redacted token]", message)
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        connection = getattr(record, "connection", "-")
        if connection != "-":
            entry["connection"] = connection
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str, *, json_lines: bool) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(levelname)-7s %(name)s [%(connection)s]: %(message)s")
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Database drivers log statements with their parameters (password hashes among them).
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
