"""Settings defaults, parsing, and production's refusal of unsafe values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import BACKEND_DIR, DEFAULT_ORIGINS, Settings, UnsafeSettingsError

STRONG = "s" * 40


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, DATA_DIR=tmp_path, **values)  # type: ignore[call-arg]


def test_local_defaults_need_nothing(tmp_path: Path) -> None:
    first = settings(tmp_path)
    assert f"sqlite+aiosqlite:///{tmp_path / 'app.db'}" == first.DATABASE_URL
    assert first.BROADCAST_URL == "memory://"
    assert first.ALLOWED_ORIGINS == DEFAULT_ORIGINS
    assert len(first.SECRET_KEY) >= 32
    # generated once, kept in the data folder, private
    assert settings(tmp_path).SECRET_KEY == first.SECRET_KEY
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_default_origins_follow_the_port(tmp_path: Path) -> None:
    assert settings(tmp_path, PORT=8123).ALLOWED_ORIGINS == [
        "http://localhost:8123",
        "http://127.0.0.1:8123",
        "http://localhost:5173",
        "http://127.0.0.1:5173",
    ]


def test_empty_allowed_origins_means_the_defaults(tmp_path: Path) -> None:
    assert (
        settings(tmp_path, ALLOWED_ORIGINS="", PORT=9000).ALLOWED_ORIGINS[0]
        == "http://localhost:9000"
    )


def test_allowed_origins_is_a_comma_separated_list(tmp_path: Path) -> None:
    parsed = settings(tmp_path, ALLOWED_ORIGINS="https://a.example, https://b.example/ ,")
    assert parsed.ALLOWED_ORIGINS == ["https://a.example", "https://b.example"]


def test_environment_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKET_RATE_LIMIT", "7.5")
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://chat.example")
    parsed = settings(tmp_path)
    assert parsed.SOCKET_RATE_LIMIT == 7.5
    assert parsed.ALLOWED_ORIGINS == ["https://chat.example"]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        pytest.param({}, "SECRET_KEY must be set", id="missing-secret"),
        pytest.param({"SECRET_KEY": "changethis"}, "SECRET_KEY must be set", id="example-secret"),
        pytest.param({"SECRET_KEY": "short"}, "at least 32", id="short-secret"),
        pytest.param(
            {"SECRET_KEY": STRONG, "ALLOWED_ORIGINS": "*"}, "not '*'", id="wildcard-origin"
        ),
        pytest.param({"SECRET_KEY": STRONG, "DATABASE_URL": ""}, "SQLite", id="sqlite"),
    ],
)
def test_production_refuses_unsafe_settings(
    tmp_path: Path, values: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        settings(
            tmp_path, **({"ENVIRONMENT": "production", "ALLOWED_ORIGINS": "https://a.b"} | values)
        )
    assert isinstance(caught.value.__cause__ or caught.value, ValueError)
    assert not (tmp_path / "secret_key").exists()  # production never generates one


def test_production_accepts_safe_settings(tmp_path: Path) -> None:
    ok = settings(
        tmp_path,
        ENVIRONMENT="production",
        SECRET_KEY=STRONG,
        ALLOWED_ORIGINS="https://chat.example",
        DATABASE_URL="postgresql+asyncpg://db/chat",
    )
    assert ok.is_production
    allowed_sqlite = settings(
        tmp_path, ENVIRONMENT="production", SECRET_KEY=STRONG, ALLOW_SQLITE_IN_PRODUCTION=True
    )
    assert allowed_sqlite.is_sqlite


def test_unsafe_production_start_exits_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}} | {
        "ENVIRONMENT": "production",
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "changethis",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Refusing to start" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr
    assert UnsafeSettingsError.__name__  # the error type the message comes from


def test_example_secret_is_replaced_locally(tmp_path: Path) -> None:
    local = settings(tmp_path, SECRET_KEY="changethis")
    assert local.SECRET_KEY != "changethis"
    assert (tmp_path / "secret_key").read_text() == local.SECRET_KEY


def test_relative_paths_are_relative_to_the_repository(tmp_path: Path) -> None:
    parsed = settings(tmp_path, FRONTEND_DIST="frontend/dist")
    assert BACKEND_DIR.parent / "frontend" / "dist" == parsed.FRONTEND_DIST


def test_env_example_documents_every_setting_and_compose_variable() -> None:
    repo = BACKEND_DIR.parent
    example = (repo / ".env.example").read_text().splitlines()
    documented = {line.split("=", 1)[0] for line in example if line and not line.startswith("#")}
    compose = "".join(
        (repo / name).read_text() for name in ("docker-compose.yml", "docker-compose.override.yml")
    )
    compose_variables = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", compose))
    assert compose_variables, "the compose file should take its values from .env"
    assert set(Settings.model_fields) <= documented, "settings missing from .env.example"
    assert compose_variables <= documented, "compose variables missing from .env.example"
    assert documented <= set(Settings.model_fields) | compose_variables, "stale .env.example lines"
