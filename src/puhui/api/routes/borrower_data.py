"""A borrower's alternative data: upload rows of one source (JSON, CSV or Parquet), with the
consent of that source's scope. Good rows are kept, bad rows come back with their reasons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from puhui.api.deps import ContainerDep, CurrentPrincipal
from puhui.api.errors import ApiError
from puhui.api.limits import MAX_UPLOAD_BYTES
from puhui.api.schemas.common import ERROR_RESPONSES, ErrorBody
from puhui.api.schemas.risk import UploadOut
from puhui.risk.data.formats import FormatProblem, InputFormat, parse_rows
from puhui.risk.data.schemas import Source
from puhui.services import risk_data

router = APIRouter(prefix="/v1/borrowers", tags=["alternative data"])

MAX_BODY_BYTES = MAX_UPLOAD_BYTES

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            # any array: each row is checked against its source's schema, and a row that fails (an
            # object with bad fields, or not an object at all) comes back in `rejected`, not as a 422
            "application/json": {"schema": {"type": "array", "items": {"description": "a row of the source's schema"}}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _source(name: str) -> Source:
    try:
        return Source(name)
    except ValueError:
        known = ", ".join(s.value for s in Source)
        raise ApiError(404, "not_found", f"no data source {name!r}; the sources are {known}") from None


UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    413: {"model": ErrorBody, "description": "More than 10 MB"},
    415: {"model": ErrorBody, "description": "Not JSON, CSV or Parquet"},
}


@router.post(
    "/{borrower_id}/data/{source}",
    status_code=202,
    response_model=UploadOut,  # documents the body; the route writes it itself
    responses=UPLOAD_RESPONSES,
    openapi_extra=_BODY_DOC,
)
async def upload(
    borrower_id: str, source: str, request: Request, container: ContainerDep, caller: CurrentPrincipal
) -> JSONResponse:
    """`{accepted, duplicates, rejected: [{index, problems: [{field, message}]}]}`; re-sent rows
    (same natural key) count as duplicates and are not stored twice."""
    src = _source(source)
    fmt = InputFormat.of_content_type(request.headers.get("content-type"))
    if fmt is None:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send application/json, text/csv or application/vnd.apache.parquet",
            [
                {
                    "path": "content-type",
                    "message": "must be application/json, text/csv or application/vnd.apache.parquet",
                }
            ],
        )
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"at most {MAX_BODY_BYTES // (1024 * 1024)} MB per upload")
    try:
        rows = parse_rows(body, fmt)
    except FormatProblem as exc:
        raise ApiError(422, "unreadable_upload", str(exc), [{"path": "body", "message": str(exc)}]) from None
    # the database work runs in the thread pool, as a sync route's would: the event loop stays free
    result = await run_in_threadpool(risk_data.ingest, container, borrower_id, src, rows, fmt, caller)
    return JSONResponse(result.as_dict(), status_code=202)
