"""`make state name=pollVote`: scaffold a new socket state, end to end.

Creates
  backend/app/features/<snake>.py            request/reply models and the handler
  backend/tests/features/test_<snake>.py     round trips through a real server
  frontend/src/features/<name>/handlers.ts   the state's entry in the handler table
registers the state in app/states.py and src/features/index.ts, then regenerates
frontend/src/interfaces/generated.ts. The new test passes as generated; the handler
says where the real logic goes. Refuses an invalid name or one that exists.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1]
REPO = BACKEND.parent
FRONTEND = REPO / "frontend"
NAME = re.compile(r"^[a-z][a-zA-Z0-9]{1,63}$")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def pascal(name: str) -> str:
    return name[0].upper() + name[1:]


def backend_module(name: str) -> str:
    cls = pascal(name)
    return f'''"""The `{name}` state (from `make state`): the real logic goes in the handler."""

from pydantic import Field

from app.realtime import RequestModel, Session, StateRouter
from app.realtime.registry import ReplyModel

states = StateRouter()


class {cls}In(RequestModel):
    """What the client sends. Replace the example field with yours."""

    text: str = Field(min_length=1, max_length=200)


class {cls}Out(ReplyModel):
    """What the reply's `data` holds."""

    text: str
    user: int


@states.handler("{name}")
async def {snake(name)}(data: {cls}In, session: Session) -> {cls}Out:
    """Describe {name}: this paragraph becomes its summary in the AsyncAPI document."""
    # The real logic goes here: read and write through `session.db`, tell others with
    # `await session.publish(topic, "someEvent", payload)`, refuse with
    # `raise errors.NotFound()` / `Forbidden()` / `Conflict()` (from app.realtime).
    return {cls}Out(text=data.text, user=session.user.id)
'''


def backend_test(name: str) -> str:
    return f'''"""Round trips for `{name}` through a real server; add your cases."""

from __future__ import annotations

import pytest

from tests.client import ErrorFrame
from tests.conftest import AccountFactory, Connect


async def test_{snake(name)}_replies(connect: Connect, account: AccountFactory) -> None:
    client = await connect(await account())
    reply = await client.request("{name}", {{"text": "hello"}})
    assert reply == {{"text": "hello", "user": client.initialised["user"]["id"]}}


async def test_{snake(name)}_validates_its_data(connect: Connect, account: AccountFactory) -> None:
    client = await connect(await account())
    with pytest.raises(ErrorFrame) as refused:
        await client.request("{name}", {{"text": ""}})
    assert refused.value.code == "invalid_data"
'''


def frontend_handlers(name: str) -> str:
    return f"""/** The `{name}` entry of the handler table (from `make state`). */
import type {{ Handlers }} from '@/interfaces'

export function {name}Handlers() {{
  return {{
    // Every `{name}` reply comes through here; the reply to your own
    // `useConnectionStore().request('{name}', data)` also resolves that call. When every reply
    // should change what is shown, take a store as an argument (pass it in ../index.ts, as
    // polls/handlers.ts does) and apply the data to it here.
    {name}: (_data) => undefined,
  }} satisfies Partial<Handlers>
}}
"""


def fail(message: str) -> None:
    sys.exit(f"make state: {message}")


def backend_registration(text: str, name: str) -> str | None:
    """states.py with the feature imported and listed in FEATURES; None if there is no list.

    The import is placed among the `from app.` imports in sorted order, as ruff's isort wants.
    """
    module = snake(name)
    import_line = f"from app.features.{module} import states as {module}_states\n"
    imports = list(re.finditer(r"^from app\.[\w.]+ import .+\n", text, re.MULTILINE))
    if not imports or "\n]\n" not in text:
        return None
    after = [match for match in imports if match.group(0) > import_line]
    at = after[0].start() if after else imports[-1].end()
    text = text[:at] + import_line + text[at:]
    return text.replace("\n]\n", f"\n    {module}_states,\n]\n", 1)


FEATURE_IMPORT = re.compile(r"^import \{ (\w+) \} from '\./([^']+)'\n", re.MULTILINE)
TABLE_END = re.compile(r"^(\s*)\} satisfies Handlers$", re.MULTILINE)


def frontend_registration(text: str, name: str) -> str | None:
    """index.ts with the state's handlers imported and spread into the table; None if no table.

    The import goes among the feature imports, in order of path; the spread goes last, above
    `} satisfies Handlers`. `HandlerTable` is `ReturnType<typeof createHandlers>`, so it follows.
    """
    imports = list(FEATURE_IMPORT.finditer(text))
    end = TABLE_END.search(text)
    if not imports or end is None:
        return None
    text = text[: end.start()] + f"{end.group(1)}  ...{name}Handlers(),\n" + text[end.start() :]
    path = f"{name}/handlers"
    after = [match for match in imports if match.group(2).lower() > path.lower()]
    at = after[0].start() if after else imports[-1].end()
    return text[:at] + f"import {{ {name}Handlers }} from './{path}'\n" + text[at:]


def main(argv: list[str]) -> None:
    if len(argv) != 1 or not NAME.match(argv[0]):
        fail("give a lowerCamelCase state name, like: make state name=pollVote")
    name = argv[0]
    sys.path.insert(0, str(BACKEND))
    from app.realtime.registry import RESERVED
    from app.states import build_registry

    registry = build_registry()
    if name in registry or name in RESERVED or name in registry.events:
        fail(f"the state {name!r} already exists")
    files = {
        BACKEND / "app" / "features" / f"{snake(name)}.py": backend_module(name),
        BACKEND / "tests" / "features" / f"test_{snake(name)}.py": backend_test(name),
        FRONTEND / "src" / "features" / name / "handlers.ts": frontend_handlers(name),
    }
    for path in files:
        if path.exists():
            fail(f"{path.relative_to(REPO)} already exists")
    # Work out both registrations before writing anything, so a refusal leaves no half-scaffold.
    states_py = BACKEND / "app" / "states.py"
    index_ts = FRONTEND / "src" / "features" / "index.ts"
    backend_text = backend_registration(states_py.read_text(), name)
    if backend_text is None:
        fail("could not find the FEATURES list in backend/app/states.py")
    frontend_text = frontend_registration(index_ts.read_text(), name)
    if frontend_text is None:
        fail("could not find the handler table in frontend/src/features/index.ts")
    assert backend_text is not None and frontend_text is not None
    files[states_py] = backend_text
    files[index_ts] = frontend_text
    for package in (BACKEND / "app" / "features", BACKEND / "tests" / "features"):
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    generated = subprocess.run(
        [sys.executable, "-m", "app.realtime.typescript"],
        cwd=BACKEND,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (FRONTEND / "src" / "interfaces" / "generated.ts").write_text(generated)
    print(f"Scaffolded the {name!r} state:")
    for path in files:
        if path not in (states_py, index_ts):
            print(f"  {path.relative_to(REPO)}")
    print("  registered in backend/app/states.py and frontend/src/features/index.ts")
    print("  regenerated frontend/src/interfaces/generated.ts")
    print(f"Next: put the real logic in {snake(name)}() and run make test.")


if __name__ == "__main__":
    main(sys.argv[1:])
