"""Errors of the accounts feature, independent of HTTP or the socket."""


class AccountError(Exception):
    """Base of this feature's errors."""


class EmailTaken(AccountError):
    """Another account already uses this email (compared case-insensitively)."""


class RefreshRejected(AccountError):
    """The refresh token is unknown, expired, revoked, or was reused and got its family revoked."""
