"""Sign-up and the current user."""

from fastapi import APIRouter, HTTPException, status

from app.accounts import service
from app.accounts.exceptions import EmailTaken
from app.accounts.schemas import UserCreate, UserPublic
from app.api.deps import CurrentUser, SessionDep, SettingsDep

router = APIRouter(prefix="/users", tags=["users"])


@router.post("/signup", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def signup(data: UserCreate, db: SessionDep, settings: SettingsDep) -> UserPublic:
    if not settings.OPEN_SIGNUP:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Sign-up is closed on this server.")
    try:
        user = await service.create_user(db, data)
    except EmailTaken:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "An account with this email already exists."
        ) from None
    return UserPublic.model_validate(user)


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)
