"""Registering states: the extension API of the template.

A feature owns a `StateRouter` and decorates one async function per state:

    states = StateRouter()

    @states.handler("sendMessage")
    async def send_message(data: SendMessageIn, session: Session) -> SendMessageOut: ...

The request model comes from the first parameter's annotation (a pydantic
model; omit the parameter for a state without data), the reply model from the
return annotation (`None` replies `{}`). `requires=` takes guards: predicates
on the session that must hold, or the request is answered `invalid_state`.
A state hot enough that building its reply model shows may return JSON it
encoded itself (`frames.Json`, from `frames.raw`) and name the model that
JSON follows with `reply=`, so the documents and client types still know it
(the builtin `ping` does; its test checks the two encodings agree).
Events a feature pushes are declared with `states.event(name, Model)` so they
are listed (and typed) beside the states.

`Registry` gathers the routers of every feature (see `app/states.py`); naming
a state twice fails at startup.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.realtime.frames import Json

if TYPE_CHECKING:
    from app.realtime.hub import Hub
    from app.realtime.session import Session


#: An integer a database column holds (32-bit): ids, seqs and counts in request data.
DbInt = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


def refuse_nul(value: Any) -> Any:
    """No U+0000 in text: PostgreSQL cannot store it, and no person types it."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, list | tuple):
        for item in value:
            refuse_nul(item)
    return value


class RequestModel(BaseModel):
    """Base for request data: unknown fields refused, strings trimmed, NUL characters refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return refuse_nul(value)


class ReplyModel(BaseModel):
    """Base for reply and event data."""


class Empty(RequestModel):
    """The data of a state that takes none."""


@dataclass(frozen=True, slots=True)
class Guard:
    """A condition on the session a state requires; `message` explains a refusal."""

    name: str
    check: Callable[[Session], bool]
    message: str

    def __call__(self, session: Session) -> bool:
        return self.check(session)


Handler = Callable[..., Awaitable[Any]]
Hook = Callable[["Session"], Awaitable[None]]
#: Called with (hub, topic) when another process's connections stop counting as online in
#: `topic` because that process died (their presence entries expired).
TopicHook = Callable[["Hub", str], Awaitable[None]]
F = TypeVar("F", bound=Handler)


@dataclass(frozen=True, slots=True)
class State:
    name: str
    handler: Handler
    request: type[BaseModel]
    reply: type[BaseModel] | None
    takes_data: bool
    requires: tuple[Guard, ...]
    summary: str
    module: str


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    model: type[BaseModel]
    summary: str


@dataclass
class StateRouter:
    """The states, events and hooks of one feature."""

    states: dict[str, State] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    on_connect: list[Hook] = field(default_factory=list)
    on_disconnect: list[Hook] = field(default_factory=list)
    on_presence_lost: list[TopicHook] = field(default_factory=list)

    def handler(
        self,
        name: str,
        *,
        requires: Guard | Iterable[Guard] = (),
        summary: str | None = None,
        reply: type[BaseModel] | None = None,
    ) -> Callable[[F], F]:
        """Register a state. `reply=` names the model of a handler returning `frames.Json`."""
        if not name.isidentifier():
            raise ValueError(f"state name {name!r} must be an identifier, like sendMessage")
        guards = (requires,) if isinstance(requires, Guard) else tuple(requires)

        def register(fn: F) -> F:
            state = _describe(name, fn, guards, summary, reply)
            if name in self.states:
                raise ValueError(f"state {name!r} is registered twice in {state.module}")
            self.states[name] = state
            return fn

        return register

    def event(self, name: str, model: type[BaseModel], summary: str = "") -> str:
        if name in self.events:
            raise ValueError(f"event {name!r} is declared twice")
        self.events[name] = Event(name, model, summary or (model.__doc__ or "").strip())
        return name

    def connect_hook(self, fn: Hook) -> Hook:
        self.on_connect.append(fn)
        return fn

    def disconnect_hook(self, fn: Hook) -> Hook:
        self.on_disconnect.append(fn)
        return fn

    def presence_lost_hook(self, fn: TopicHook) -> TopicHook:
        self.on_presence_lost.append(fn)
        return fn


class Registry:
    """Every state of the app; built once at startup from the features' routers."""

    def __init__(self, *routers: StateRouter) -> None:
        self._states: dict[str, State] = {}
        self._events: dict[str, Event] = {}
        self.on_connect: list[Hook] = []
        self.on_disconnect: list[Hook] = []
        self.on_presence_lost: list[TopicHook] = []
        for router in routers:
            self.include(router)

    def include(self, router: StateRouter) -> None:
        for name, state in router.states.items():
            if name in self._states or name in RESERVED:
                where = self._states[name].module if name in self._states else "the protocol"
                raise ValueError(
                    f"state {name!r} from {state.module} is already registered by {where}"
                )
            self._states[name] = state
        for name, event in router.events.items():
            if name in self._events and self._events[name].model is not event.model:
                raise ValueError(f"event {name!r} is declared twice with different models")
            self._events[name] = event
        self.on_connect.extend(router.on_connect)
        self.on_disconnect.extend(router.on_disconnect)
        self.on_presence_lost.extend(router.on_presence_lost)

    def get(self, name: str) -> State | None:
        return self._states.get(name)

    def __iter__(self) -> Iterator[State]:
        return iter(self._states.values())

    def __contains__(self, name: object) -> bool:
        return name in self._states

    @property
    def events(self) -> dict[str, Event]:
        return dict(self._events)

    def schemas(self) -> dict[str, Any]:
        """Every state with its request and reply JSON schema, and every event's."""
        return {
            "states": {
                state.name: {
                    "summary": state.summary,
                    "requires": [guard.name for guard in state.requires],
                    "request": state.request.model_json_schema(),
                    "reply": state.reply.model_json_schema() if state.reply else _EMPTY_SCHEMA,
                }
                for state in self
            },
            "events": {
                event.name: {"summary": event.summary, "data": event.model.model_json_schema()}
                for event in self._events.values()
            },
        }


#: Names the protocol itself uses for frames that are not replies.
RESERVED = frozenset({"error", "initialised"})

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "title": "Empty"}


def _describe(
    name: str,
    fn: Handler,
    guards: tuple[Guard, ...],
    summary: str | None,
    declared: type[BaseModel] | None,
) -> State:
    where = f"{fn.__module__}.{fn.__qualname__}"
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"handler {where} for state {name!r} must be `async def`")
    hints = get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())
    if not 1 <= len(params) <= 2:
        raise TypeError(f"handler {where} must take (data, session) or (session)")
    takes_data = len(params) == 2
    request: type[BaseModel] = Empty
    if takes_data:
        annotation = hints.get(params[0].name)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            raise TypeError(f"handler {where}: annotate `{params[0].name}` with a pydantic model")
        request = annotation
    reply = hints.get("return")
    if reply is Json:
        if declared is None:
            raise TypeError(f"handler {where} returns frames.Json: name its model with reply=")
        reply = declared
    elif declared is not None:
        raise TypeError(f"handler {where}: reply= is for handlers returning frames.Json")
    elif reply is type(None):
        reply = None
    elif not (isinstance(reply, type) and issubclass(reply, BaseModel)):
        raise TypeError(f"handler {where}: annotate the return type with a pydantic model or None")
    doc = summary or (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
    return State(name, fn, request, reply, takes_data, guards, doc, fn.__module__)
