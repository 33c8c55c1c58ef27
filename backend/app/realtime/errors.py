"""Socket errors: one tree, each class with the stable wire `code` clients switch on.

    SocketError                      code            closes with
    ├── Unauthorized                 unauthorized          1008
    ├── TooManyConnections           too_many_connections  1008
    ├── InvalidJson                  invalid_json
    ├── InvalidRequest               invalid_request
    ├── UnknownState                 unknown_state
    ├── InvalidData                  invalid_data   (carries pydantic `details`)
    ├── InvalidState                 invalid_state  (a guard of the state refused)
    ├── Forbidden                    forbidden
    ├── NotFound                     not_found
    ├── Conflict                     conflict
    ├── RateLimited                  rate_limited
    ├── TokenExpired                 token_expired         4001
    └── InternalError                internal_error

Features raise these (or subclass them: `class RoomNameTaken(Conflict)`); the
dispatcher turns any `SocketError` into an error frame, and any other
exception into `internal_error` with a logged correlation id.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError


class CloseCode:
    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013
    TOKEN_EXPIRED = 4001


class SocketError(Exception):
    code: ClassVar[str] = "error"
    default_message: ClassVar[str] = "Request failed."
    close_code: ClassVar[int | None] = None

    def __init__(self, message: str | None = None, *, details: list[dict[str, Any]] | None = None):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class Unauthorized(SocketError):
    code = "unauthorized"
    default_message = "Could not validate credentials."
    close_code = CloseCode.POLICY_VIOLATION


class TooManyConnections(SocketError):
    code = "too_many_connections"
    default_message = "Too many open connections for this user."
    close_code = CloseCode.POLICY_VIOLATION


class InvalidJson(SocketError):
    code = "invalid_json"
    default_message = "A frame must be a JSON object."


class InvalidRequest(SocketError):
    code = "invalid_request"
    default_message = (
        "A request needs a string `state`, an object `data` and a string or integer `id`."
    )


class UnknownState(SocketError):
    code = "unknown_state"
    default_message = "Unknown state."


class InvalidData(SocketError):
    code = "invalid_data"
    default_message = "The request data is invalid."

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidData:
        details = [
            {"loc": list(error["loc"]), "type": error["type"], "msg": error["msg"]}
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        return cls(details=details)


class InvalidState(SocketError):
    code = "invalid_state"
    default_message = "This request is not allowed in the session's current state."


class Forbidden(SocketError):
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(SocketError):
    code = "not_found"
    default_message = "Not found."


class Conflict(SocketError):
    code = "conflict"
    default_message = "This conflicts with existing data."


class RateLimited(SocketError):
    code = "rate_limited"
    default_message = "Too many requests; slow down."


class TokenExpired(SocketError):
    code = "token_expired"
    default_message = "The access token has expired; refresh it and reconnect."
    close_code = CloseCode.TOKEN_EXPIRED


class InternalError(SocketError):
    code = "internal_error"
    default_message = "Internal error."
