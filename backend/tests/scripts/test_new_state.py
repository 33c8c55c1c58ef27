"""`make state`: one command adds a state end to end, and the types catch a forgotten handler.

Runs the scaffold in a copy of the repository: the new backend test passes, lint and mypy stay
clean, the frontend type-checks, and the type check fails once the state's entry is removed
from the handler table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import BACKEND_DIR, REPO_DIR

pytestmark = pytest.mark.slow

FRONTEND = REPO_DIR / "frontend"
IGNORED = shutil.ignore_patterns(
    ".venv", "data", "node_modules", "dist", "__pycache__", ".*_cache", "*.egg-info", ".hardening*"
)


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(BACKEND_DIR, repo / "backend", ignore=IGNORED)
    shutil.copytree(FRONTEND, repo / "frontend", ignore=IGNORED)
    if (FRONTEND / "node_modules").is_dir():
        (repo / "frontend" / "node_modules").symlink_to(FRONTEND / "node_modules")
    return repo


def scaffold(repo: Path, name: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "scripts/new_state.py", name], repo / "backend", check)


def test_scaffolded_state_passes_everything_out_of_the_box(copy: Path) -> None:
    output = scaffold(copy, "rollDice").stdout
    assert "backend/app/features/roll_dice.py" in output
    backend = copy / "backend"
    assert "roll_dice_states," in (backend / "app" / "states.py").read_text()
    generated = (copy / "frontend" / "src" / "interfaces" / "generated.ts").read_text()
    assert "  rollDice: RollDiceIn\n" in generated and "  rollDice: RollDiceOut\n" in generated

    tests = run(
        [sys.executable, "-m", "pytest", "tests/features", "-q", "-p", "no:cacheprovider"], backend
    )
    assert "2 passed" in tests.stdout
    run([sys.executable, "-m", "ruff", "check", "."], backend)
    run([sys.executable, "-m", "ruff", "format", "--check", "."], backend)
    run([sys.executable, "-m", "mypy"], backend)

    if not (FRONTEND / "node_modules").is_dir():
        pytest.skip("frontend dependencies are not installed")
    frontend = copy / "frontend"
    run(["npm", "run", "--silent", "type-check"], frontend)
    run(["npm", "run", "--silent", "lint"], frontend)

    # Forget the state in the handler table: the generated types make that a compile error.
    index = frontend / "src" / "features" / "index.ts"
    index.write_text(index.read_text().replace("    ...rollDiceHandlers(),\n", ""))
    broken = run(["npm", "run", "--silent", "type-check"], frontend, check=False)
    assert broken.returncode != 0
    assert "rollDice" in broken.stdout + broken.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("sendMessage", "already exists", id="existing-state"),
        pytest.param("pollResults", "already exists", id="existing-event"),
        pytest.param("error", "already exists", id="reserved"),
        pytest.param("Bad-Name", "lowerCamelCase", id="invalid"),
        pytest.param("roll_dice", "lowerCamelCase", id="snake-case"),
    ],
)
def test_scaffold_refuses_bad_names_and_writes_nothing(copy: Path, name: str, message: str) -> None:
    before = sorted(
        str(p.relative_to(copy)) for p in copy.rglob("*") if "node_modules" not in p.parts
    )
    result = scaffold(copy, name, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    after = sorted(
        str(p.relative_to(copy)) for p in copy.rglob("*") if "node_modules" not in p.parts
    )
    assert after == before
