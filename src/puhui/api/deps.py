"""Typed dependency aliases for routes: the container, the caller, and role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from puhui.api.errors import ApiError
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role
from puhui.services import auth

_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False)


async def get_container(request: Request) -> Container:
    """`async`, though it awaits nothing: FastAPI runs a plain `def` dependency in a worker thread,
    a hop (~0.3 ms of CPU) every request would pay for reading an attribute."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the caller sent to say who it is (read on the event loop, no database)."""

    bearer: str | None
    api_key: str | None


async def get_credentials(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Credentials:
    return Credentials(bearer.credentials if bearer is not None else None, api_key or None)


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]

# What `CredentialsDep` adds to a route's OpenAPI operation, for a route that reads the headers itself
CREDENTIALS_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]


def credentials_of(request: Request) -> Credentials:
    """`CredentialsDep` read straight from the headers, as HTTPBearer and APIKeyHeader read them
    (a route on the hot path skips FastAPI's dependency solving, ~0.2 ms a request)."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return Credentials(bearer, request.headers.get("x-api-key") or None)


def authenticate(container: Container, credentials: Credentials) -> Principal:
    """The caller, or 401. Blocking (one database look-up): call it from a worker thread."""
    principal = None
    if credentials.bearer is not None:
        principal = auth.authenticate_token(container, credentials.bearer)
    elif credentials.api_key:
        principal = auth.authenticate_api_key(container, credentials.api_key)
    if principal is None:
        raise ApiError(401, "unauthorized", "sign in first: send 'Authorization: Bearer <token>' or 'X-Api-Key'")
    return principal


def get_principal(container: ContainerDep, credentials: CredentialsDep) -> Principal:
    return authenticate(container, credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:  # no I/O: on the event loop
        if not principal.has_any(roles):
            raise ApiError(403, "forbidden", f"this needs one of the roles: {', '.join(r.value for r in roles)}")
        return principal

    return check


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
