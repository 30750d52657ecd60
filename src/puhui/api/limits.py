"""The request-size limit: a body larger than its route allows is refused with 413 and the API's
error body, before the route sees any of it. A declared length is checked at once; a body sent
without one (chunked) is read up to the limit and then handed on, or refused."""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from puhui.api.errors import error_body

MAX_REQUEST_BYTES = 1024 * 1024  # a JSON request of this API is a few kB; a form page less
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # a borrower's data file (CSV, JSON, Parquet)
UPLOAD_PATH = re.compile(r"^/v1/borrowers/[^/]+/data/[^/]+$")


def limit_for(path: str) -> int:
    return MAX_UPLOAD_BYTES if UPLOAD_PATH.match(path) else MAX_REQUEST_BYTES


def _too_large(size: str, limit: int) -> JSONResponse:
    message = f"the request body is {size} bytes; at most {limit:,} are accepted here"
    return JSONResponse(error_body("payload_too_large", message), status_code=413)


class BodySizeLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                await _too_large(f"{int(declared):,}", limit)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _too_large(f"more than {limit:,}", limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)
