"""Dependencies shared by the REST routers, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service
from app.accounts.models import User
from app.core.config import Settings
from app.core.security import InvalidToken

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)

CREDENTIALS_ERROR = "Could not validate credentials."


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.database.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_db)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


async def get_current_user(db: SessionDep, settings: SettingsDep, token: TokenDep) -> User:
    if token is None:
        raise unauthorized()
    try:
        user, _claims = await service.user_from_access_token(db, token, settings)
    except InvalidToken:
        raise unauthorized() from None
    return user


def unauthorized(detail: str = CREDENTIALS_ERROR) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentUser = Annotated[User, Depends(get_current_user)]
