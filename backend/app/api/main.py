"""Every REST router, assembled under `/api/v1`."""

from fastapi import APIRouter

from app.api.routes import health, login, socket_docs, users

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(health.router)
api_router.include_router(users.router)
api_router.include_router(login.router)
api_router.include_router(socket_docs.router)
