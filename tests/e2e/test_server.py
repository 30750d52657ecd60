"""`puhui demo` then `puhui serve`, spoken to over real HTTP, as `make run` does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from puhui.adapters.db.database import Database
from tests.helpers import free_port, wait_until_up

PUHUI = [sys.executable, "-m", "puhui.cli"]


@pytest.fixture
def server(db: Database, tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "PUHUI_ENV": "demo"}
    subprocess.run(
        [*PUHUI, "demo", "--db", db.url, "--borrowers", "0"], check=True, env=env, capture_output=True, timeout=120
    )
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [*PUHUI, "serve", "--db", db.url, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(f"{base}/healthz", timeout_s=30):
            pytest.fail("server did not start: " + (tmp_path / "server.log").read_text())
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_products_and_a_quote_over_real_http(server: str) -> None:
    products = httpx.get(f"{server}/v1/products", timeout=10)
    assert products.status_code == 200
    assert len(products.json()) >= 5
    quote = httpx.post(
        f"{server}/v1/quotes",
        json={"product_code": "PH-EP", "amount": "100000", "term_months": 12, "annual_rate": "0.12"},
        timeout=10,
    )
    assert quote.status_code == 200, quote.text
    assert quote.json()["installments"][0]["payment"] == "9333.33"
    bad = httpx.post(f"{server}/v1/quotes", json={"product_code": "PH-EP"}, timeout=10)
    assert bad.status_code == 422
    assert {f["path"] for f in bad.json()["error"]["fields"]} == {"amount", "term_months"}
