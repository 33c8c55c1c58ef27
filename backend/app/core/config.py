"""Settings: one class, read from the environment and an optional `.env`.

Every field has a default that lets `make run` work on a fresh clone: a SQLite
file and a generated development secret under `DATA_DIR`, in-memory
broadcasting, the app's own local origins. `ENVIRONMENT=production` turns
those conveniences into refusals (see `Settings._refuse_unsafe_production`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BACKEND_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = BACKEND_DIR.parent

#: The value shipped in `.env.example`; production refuses it.
EXAMPLE_SECRET_KEY = "changethis"


def default_origins(port: int) -> list[str]:
    """The app's own local origins: where `make run` serves, and the Vite dev server."""
    return list(
        dict.fromkeys(
            [
                f"http://localhost:{port}",
                f"http://127.0.0.1:{port}",
                "http://localhost:5173",
                "http://127.0.0.1:5173",
            ]
        )
    )


DEFAULT_ORIGINS = default_origins(8000)


class UnsafeSettingsError(ValueError):
    """Production settings that would be unsafe to serve with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=(REPO_DIR / ".env", BACKEND_DIR / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    ENVIRONMENT: Literal["local", "test", "production"] = "local"
    PROJECT_NAME: str = "Chat Template"
    LOG_LEVEL: str = "INFO"

    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=0, le=65535)
    WEB_CONCURRENCY: int = Field(default=1, ge=1)
    FORWARDED_ALLOW_IPS: str = "127.0.0.1"

    DATA_DIR: Path = BACKEND_DIR / "data"
    SECRET_KEY: str = ""
    DATABASE_URL: str = ""
    ALLOW_SQLITE_IN_PRODUCTION: bool = False
    BROADCAST_URL: str = "memory://"
    BROADCAST_PREFIX: str = Field(default="chat", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    FRONTEND_DIST: Path = REPO_DIR / "frontend" / "dist"

    ALLOWED_ORIGINS: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ORIGINS)
    )
    OPEN_SIGNUP: bool = True
    METRICS_ENABLED: bool = True
    METRICS_TOKEN: str = ""

    JWT_ALGORITHM: Literal["HS256", "HS384", "HS512"] = "HS256"
    ACCESS_TOKEN_EXPIRE_MINUTES: float = Field(default=30, gt=0)
    REFRESH_TOKEN_EXPIRE_DAYS: float = Field(default=7, gt=0)
    REFRESH_TOKEN_REUSE_GRACE_SECONDS: float = Field(default=30, ge=0)

    SOCKET_AUTH_TIMEOUT: float = Field(default=10, gt=0)
    SOCKET_MAX_CONNECTIONS_PER_USER: int = Field(default=10, ge=1)
    SOCKET_MAX_MESSAGE_BYTES: int = Field(default=65536, ge=256)
    SOCKET_RATE_LIMIT: float = Field(default=20, gt=0)
    SOCKET_RATE_BURST: int = Field(default=40, ge=1)
    SOCKET_SEND_QUEUE: int = Field(default=1000, ge=1)
    SOCKET_PING_INTERVAL: float = Field(default=20, gt=0)
    SOCKET_PING_TIMEOUT: float = Field(default=20, gt=0)

    @field_validator("ALLOWED_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("DATA_DIR", "FRONTEND_DIST", mode="after")
    @classmethod
    def _relative_to_repo(cls, value: Path) -> Path:
        return value if value.is_absolute() else REPO_DIR / value

    @model_validator(mode="after")
    def _fill_local_defaults(self) -> Settings:
        if "ALLOWED_ORIGINS" not in self.model_fields_set or not self.ALLOWED_ORIGINS:
            self.ALLOWED_ORIGINS = default_origins(self.PORT)
        if not self.DATABASE_URL:
            self.DATABASE_URL = f"sqlite+aiosqlite:///{self.DATA_DIR / 'app.db'}"
        if self.ENVIRONMENT != "production" and self.SECRET_KEY in ("", EXAMPLE_SECRET_KEY):
            self.SECRET_KEY = _development_secret(self.DATA_DIR)
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.ENVIRONMENT != "production":
            return self
        problems = []
        if not self.SECRET_KEY or self.SECRET_KEY == EXAMPLE_SECRET_KEY:
            problems.append("SECRET_KEY must be set to a long random value")
        elif len(self.SECRET_KEY) < 32:
            problems.append("SECRET_KEY must be at least 32 characters")
        if "*" in self.ALLOWED_ORIGINS:
            problems.append("ALLOWED_ORIGINS must list origins, not '*'")
        if self.is_sqlite and not self.ALLOW_SQLITE_IN_PRODUCTION:
            problems.append(
                "DATABASE_URL is SQLite; use PostgreSQL or set ALLOW_SQLITE_IN_PRODUCTION"
            )
        if problems:
            raise UnsafeSettingsError(
                "refusing to start with ENVIRONMENT=production: " + "; ".join(problems)
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT == "production"


def _development_secret(data_dir: Path) -> str:
    """A random key generated on first use and kept in the data folder."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".secret_key.{secrets.token_hex(8)}"
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):  # another worker won the race
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
