"""One error body for every failure: {"error": {"code", "message", "fields": [{"path", "message"}]}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from puhui.domain.caps import RateCapExceeded
from puhui.domain.errors import DomainValidationError
from puhui.domain.ledger import LedgerError, TransferConflict
from puhui.domain.schedule import ScheduleError
from puhui.money import MoneyError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []


def not_found(what: str, key: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} {key} was not found")


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or []}}


def _respond(status: int, code: str, message: str, fields: list[dict[str, str]] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, fields), status_code=status)


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _clean(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _respond(exc.status, exc.code, exc.message, exc.fields)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"path": _loc_to_path(tuple(e["loc"])), "message": _clean(e["msg"])} for e in exc.errors()]
        summary = "; ".join(f"{f['path']}: {f['message']}" for f in fields)
        return _respond(422, "validation_error", summary or "the request is invalid", fields)

    @app.exception_handler(DomainValidationError)
    async def _domain(_: Request, exc: DomainValidationError) -> JSONResponse:
        fields = [{"path": p.path, "message": p.message} for p in exc.problems]
        return _respond(422, exc.code, exc.message, fields)

    @app.exception_handler(RateCapExceeded)
    async def _cap(_: Request, exc: RateCapExceeded) -> JSONResponse:
        fields = [{"path": "apr", "message": f.message} for f in exc.findings]
        return _respond(422, exc.code, str(exc), fields)

    @app.exception_handler(ScheduleError)
    async def _schedule(_: Request, exc: ScheduleError) -> JSONResponse:
        return _respond(422, "validation_error", str(exc), [{"path": exc.field, "message": exc.reason}])

    @app.exception_handler(MoneyError)
    async def _money(_: Request, exc: MoneyError) -> JSONResponse:
        return _respond(422, "validation_error", str(exc))

    @app.exception_handler(TransferConflict)
    async def _conflict(_: Request, exc: TransferConflict) -> JSONResponse:
        return _respond(409, exc.code, str(exc))

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return _respond(422, "ledger_error", str(exc))

    from puhui.domain.access import MissingConsent
    from puhui.services.auth import AuthError, RateLimited
    from puhui.services.borrowers import Conflict, Forbidden, NotFound

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return _respond(401, exc.code, str(exc))

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = _respond(429, exc.code, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _respond(404, exc.code, str(exc))

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return _respond(403, exc.code, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict_409(_: Request, exc: Conflict) -> JSONResponse:
        fields = [{"path": exc.field, "message": str(exc)}] if exc.field else None
        return _respond(409, exc.code, str(exc), fields)

    from puhui.services.contracts import OfferExpired

    @app.exception_handler(OfferExpired)
    async def _expired(_: Request, exc: OfferExpired) -> JSONResponse:
        return _respond(409, exc.code, str(exc))

    @app.exception_handler(MissingConsent)
    async def _consent(_: Request, exc: MissingConsent) -> JSONResponse:
        return _respond(409, exc.code, str(exc), [{"path": "consent", "message": exc.scope.value}])

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL refuses a NUL character in any text value (SQLite stores it): bad input, not a
        # server error. Any other data error is ours and stays a 500.
        if "NUL" in str(exc.orig):
            return _respond(422, "validation_error", "text cannot contain NUL (0x00) characters")
        raise exc

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return _respond(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
