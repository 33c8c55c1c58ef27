"""Log in, refresh and log out.

The refresh token is returned in the body (for API clients) and set as an
httpOnly, SameSite=Strict cookie scoped to `/api/v1/login` (for the browser
app, which then never holds a long-lived token where scripts can read it).
"""

import contextlib
from typing import Annotated

from fastapi import APIRouter, Body, Cookie, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.accounts import service
from app.accounts.exceptions import RefreshRejected
from app.accounts.schemas import RefreshIn, Tokens
from app.api.deps import SessionDep, SettingsDep, TokenDep, unauthorized
from app.core.config import Settings
from app.core.security import InvalidToken

router = APIRouter(tags=["login"])

COOKIE_NAME = "refresh_token"
COOKIE_PATH = "/api/v1/login"

FormDep = Annotated[OAuth2PasswordRequestForm, Depends()]
CookieToken = Annotated[str | None, Cookie(alias=COOKIE_NAME)]
BodyToken = Annotated[RefreshIn | None, Body()]


@router.post("/login/access-token", response_model=Tokens)
async def login(form: FormDep, response: Response, db: SessionDep, settings: SettingsDep) -> Tokens:
    user = await service.authenticate(db, form.username, form.password)
    if user is None:
        raise unauthorized("Incorrect email or password.")
    pair = await service.issue_tokens(db, user, settings)
    return _answer(response, pair, settings)


@router.post("/login/refresh-token", response_model=Tokens)
async def refresh(
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
    cookie: CookieToken = None,
    bearer: TokenDep = None,
    body: BodyToken = None,
) -> Tokens:
    token = (body.refresh_token if body else None) or bearer or cookie
    if not token:
        raise unauthorized("No refresh token.")
    try:
        pair = await service.rotate_refresh_token(db, token, settings)
    except RefreshRejected:
        _clear_cookie(response, settings)
        raise unauthorized() from None
    return _answer(response, pair, settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
    cookie: CookieToken = None,
    bearer: TokenDep = None,
    body: BodyToken = None,
) -> None:
    """End the login: revoke its refresh-token family and clear the cookie.

    The cookie is scoped to `/api/v1/login`, so a browser does not send it here;
    the access token names its family (`fam` claim) instead.
    """
    families: set[str] = set()
    for token in (body.refresh_token if body else None, cookie, bearer):
        if token and (family := service.refresh_family(token, settings)):
            families.add(family)
    if bearer:
        with contextlib.suppress(InvalidToken):
            families.add(service.access_claims(bearer, settings).family)
    if not families:
        raise unauthorized()
    for family in families:
        await service.revoke_family(db, family)
    _clear_cookie(response, settings)
    response.status_code = status.HTTP_204_NO_CONTENT


def _answer(response: Response, pair: service.TokenPair, settings: Settings) -> Tokens:
    response.set_cookie(
        COOKIE_NAME,
        pair.refresh_token,
        max_age=int(settings.REFRESH_TOKEN_EXPIRE_DAYS * 86400),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.is_production,
    )
    response.headers["Cache-Control"] = "no-store"
    return Tokens(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


def _clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.is_production,
    )
