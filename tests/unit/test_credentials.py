"""The hot decision route reads the caller's credentials from the headers itself
(api/deps.credentials_of): it must read exactly what the FastAPI security dependencies the other
routes use read, for every shape of header a client sends."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from puhui.api.deps import _api_key, _bearer, credentials_of, get_credentials

HEADERS = [
    {},
    {"authorization": "Bearer abc.def"},
    {"authorization": "bearer abc"},
    {"authorization": "BEARER   spaced  "},
    {"authorization": "Bearer"},
    {"authorization": "Bearer "},
    {"authorization": "Basic dXNlcjpwYXNz"},
    {"authorization": ""},
    {"x-api-key": "pk_live_1"},
    {"x-api-key": ""},
    {"authorization": "Bearer t", "x-api-key": "k"},
]


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "query_string": b""})


@pytest.mark.parametrize("headers", HEADERS, ids=[str(h) for h in HEADERS])
def test_the_headers_read_the_same_as_the_security_dependencies(headers: dict[str, str]) -> None:
    request = _request(headers)

    async def by_dependencies() -> object:
        return await get_credentials(await _bearer(request), await _api_key(request))

    assert credentials_of(request) == asyncio.run(by_dependencies())
