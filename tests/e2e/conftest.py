"""An API client on a prepared demo database (both backends), with a clock the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from puhui.adapters.db.database import Database
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare
from puhui.clock import FixedClock
from puhui.config import load_settings


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 22, 2, tzinfo=UTC))


@pytest.fixture
def demo_client(db: Database, clock: FixedClock) -> Iterator[TestClient]:
    """Demo mode (OTP codes in the response), products and chart of accounts loaded."""
    container = Container(load_settings(database_url=db.url, env="demo"), db, clock)
    prepare(container)
    with TestClient(create_app(container)) as c:
        yield c
