"""Alternative data uploads: consent per source, row-level validation (good rows kept, bad rows
returned with reasons), duplicates not stored twice, JSON / CSV / Parquet, and the CLI."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import borrower_data, data_batches
from puhui.cli import app
from puhui.risk.data.schemas import Source
from puhui.services.risk_data import consented_data
from tests.helpers import borrower_token, phone, resident_id

runner = CliRunner()


def _borrower(client: TestClient, n: int, *scopes: str) -> tuple[dict[str, str], str]:
    headers = borrower_token(client, phone(n))
    body = {"kind": "individual", "name": "钱九", "id_number": resident_id(n), "phone": phone(n), "region": "330106"}
    borrower_id = client.post("/v1/borrowers", json=body, headers=headers).json()["id"]
    for scope in scopes:
        granted = client.post(
            f"/v1/borrowers/{borrower_id}/consents", json={"scope": scope, "text_version": "1"}, headers=headers
        )
        assert granted.status_code == 201, granted.text
    return headers, borrower_id


def _stored(db: Database, borrower_id: str) -> int:
    return int(
        db.read(
            lambda c: c.execute(
                select(func.count()).select_from(borrower_data).where(borrower_data.c.borrower_id == borrower_id)
            ).scalar_one()
        )
    )


TXNS = [
    {"txn_id": "t1", "occurred_on": "2026-10-01", "direction": "in", "amount": "1200.00", "counterparty_id": "c-9"},
    {"txn_id": "t2", "occurred_on": "2026-10-02", "direction": "out", "amount": "300.50", "balance_after": "-20.00"},
    {"txn_id": "t3", "occurred_on": "2026-10-32", "direction": "in", "amount": "5.00"},  # no such day
    {"txn_id": "t4", "occurred_on": "2026-10-03", "direction": "sideways", "amount": "-1"},
]


def test_no_upload_without_the_sources_consent(demo_client: TestClient, db: Database) -> None:
    headers, borrower_id = _borrower(demo_client, 1, "credit_assessment")
    refused = demo_client.post(f"/v1/borrowers/{borrower_id}/data/transactions", json=TXNS[:2], headers=headers)
    assert refused.status_code == 409
    assert (
        refused.json()["error"]["code"] == "consent_required" and "transactions" in refused.json()["error"]["message"]
    )
    assert _stored(db, borrower_id) == 0


def test_good_rows_are_kept_bad_rows_come_back_with_reasons(demo_client: TestClient, db: Database) -> None:
    headers, borrower_id = _borrower(demo_client, 2, "transactions")
    sent = demo_client.post(f"/v1/borrowers/{borrower_id}/data/transactions", json=TXNS, headers=headers)
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert (body["received"], body["accepted"], body["duplicates"]) == (4, 2, 0)
    rejected = {r["index"]: {p["field"] for p in r["problems"]} for r in body["rejected"]}
    assert rejected == {2: {"occurred_on"}, 3: {"direction", "amount"}}
    assert _stored(db, borrower_id) == 2

    again = demo_client.post(f"/v1/borrowers/{borrower_id}/data/transactions", json={"rows": TXNS[:2]}, headers=headers)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert _stored(db, borrower_id) == 2

    kept = db.read(lambda c: consented_data(c, borrower_id))[Source.TRANSACTIONS]
    assert [r["amount"] for r in kept] == ["1200.00", "300.50"]  # exact, back from fen
    assert kept[1]["balance_after"] == "-20.00"


def test_csv_and_parquet_uploads(demo_client: TestClient, db: Database) -> None:
    headers, borrower_id = _borrower(demo_client, 3, "transactions", "tax_invoices")
    csv_body = (
        "\ufeffbill_id,utility,due_on,paid_on,amount\n"  # a byte-order mark, as Excel writes
        "b1,electricity,2026-09-10,2026-09-09,88.20\n"
        "b2,water,2026-09-10,,31.00\n"  # not paid (an empty cell)
    )
    sent = demo_client.post(
        f"/v1/borrowers/{borrower_id}/data/utility_payments",
        content=csv_body.encode(),
        headers={**headers, "content-type": "text/csv"},
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["accepted"] == 2 and sent.json()["rejected"] == []

    table = pa.table(
        {
            "invoice_id": ["i1", "i2"],
            "issued_on": ["2026-08-01", "2026-08-02"],
            "direction": ["sales", "purchase"],
            "amount": ["10000.00", "2500.00"],
            "tax_amount": ["1300.00", "325.00"],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    sent = demo_client.post(
        f"/v1/borrowers/{borrower_id}/data/tax_invoices",
        content=buffer.getvalue(),
        headers={**headers, "content-type": "application/vnd.apache.parquet"},
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["accepted"] == 2
    assert _stored(db, borrower_id) == 4


def test_bad_uploads_are_refused_whole(demo_client: TestClient, db: Database) -> None:
    headers, borrower_id = _borrower(demo_client, 4, "transactions")
    _, theirs = _borrower(demo_client, 5, "transactions")
    url = f"/v1/borrowers/{borrower_id}/data/transactions"
    cases = [
        (demo_client.post(f"/v1/borrowers/{theirs}/data/transactions", json=TXNS[:1], headers=headers), 404),
        (demo_client.post(f"/v1/borrowers/{borrower_id}/data/payslips", json=TXNS[:1], headers=headers), 404),
        (demo_client.post(url, content=b"<xml/>", headers={**headers, "content-type": "application/xml"}), 415),
        (demo_client.post(url, content=b"[{", headers={**headers, "content-type": "application/json"}), 422),
        (demo_client.post(url, json={"txn_id": "t1"}, headers=headers), 422),  # an object, not rows
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert "Traceback" not in response.text
    assert _stored(db, borrower_id) == 0 and _stored(db, theirs) == 0
    batches = db.read(lambda c: c.execute(select(func.count()).select_from(data_batches)).scalar_one())
    assert batches == 0


def test_revoked_consent_stops_the_data_being_used(demo_client: TestClient, db: Database) -> None:
    headers, borrower_id = _borrower(demo_client, 6, "transactions")
    demo_client.post(f"/v1/borrowers/{borrower_id}/data/transactions", json=TXNS[:2], headers=headers)
    assert len(db.read(lambda c: consented_data(c, borrower_id))[Source.TRANSACTIONS]) == 2
    consent = demo_client.get(f"/v1/borrowers/{borrower_id}/consents", headers=headers).json()[0]
    demo_client.delete(f"/v1/borrowers/{borrower_id}/consents/{consent['id']}", headers=headers)
    assert Source.TRANSACTIONS not in db.read(lambda c: consented_data(c, borrower_id))


def test_cli_ingest_reports_rejections_and_exit_codes(demo_client: TestClient, db: Database, tmp_path: Path) -> None:
    _, borrower_id = _borrower(demo_client, 7, "transactions")
    good = tmp_path / "txns.json"
    good.write_text(json.dumps(TXNS[:2]))
    done = runner.invoke(
        app,
        ["data", "ingest", "--borrower", borrower_id, "--source", "transactions", "--file", str(good), "--db", db.url],
    )
    assert done.exit_code == 0, done.output
    assert "kept 2" in done.output

    mixed = tmp_path / "mixed.csv"
    mixed.write_text("txn_id,occurred_on,direction,amount\nt9,2026-10-05,in,10.00\nt10,2026-02-30,in,10.00\n")
    done = runner.invoke(
        app,
        ["data", "ingest", "--borrower", borrower_id, "--source", "transactions", "--file", str(mixed), "--db", db.url],
    )
    assert done.exit_code == 1
    assert "kept 1" in done.output and "occurred_on" in done.output
    assert _stored(db, borrower_id) == 3

    unknown = runner.invoke(
        app, ["data", "ingest", "--borrower", borrower_id, "--source", "salary", "--file", str(good), "--db", db.url]
    )
    assert unknown.exit_code == 2 and "--source" in unknown.output
    nobody = runner.invoke(
        app, ["data", "ingest", "--borrower", "nobody", "--source", "transactions", "--file", str(good), "--db", db.url]
    )
    assert nobody.exit_code == 2 and "not found" in nobody.output


def test_the_decisions_fast_read_gives_the_same_features_as_the_rows(demo_client: TestClient, db: Database) -> None:
    """consented_frames (one ndjson parse, amounts from fen) feeds the features exactly as the
    row-by-row read does."""
    import polars as pl

    from puhui.risk.features import AltData, build_features
    from puhui.services.risk_data import consented_frames
    from tests.helpers import share_cash_flow

    headers, borrower_id = _borrower(demo_client, 8, "relations")
    share_cash_flow(demo_client, headers, borrower_id, as_of=date(2026, 11, 22))
    demo_client.post(
        f"/v1/borrowers/{borrower_id}/data/relations",
        json=[{"kind": "guarantor", "other_party_id": "p-1"}, {"kind": "shared_device", "other_party_id": "p-2"}],
        headers=headers,
    )
    rows = {s: r for s, r in db.read(lambda c: consented_data(c, borrower_id)).items() if r}
    frames = db.read(lambda c: consented_frames(c, borrower_id))
    assert set(frames) == set(rows) and all(frames[s].height == len(rows[s]) for s in rows)

    def features(by_source: dict[Source, pl.DataFrame]) -> dict[str, object]:
        tagged = {s: f.with_columns(pl.lit(borrower_id).alias("borrower_id")) for s, f in by_source.items()}
        alt = AltData.of(pl.DataFrame({"borrower_id": [borrower_id]}), tagged)
        return build_features(alt, date(2026, 11, 22)).row(0, named=True)

    from_rows = features({s: pl.DataFrame(r, infer_schema_length=None) for s, r in rows.items()})
    fast = features(frames)
    assert fast.keys() == from_rows.keys()
    for name, value in from_rows.items():  # sums of the same amounts, added in floating point
        same = fast[name] == value if value is None or isinstance(value, str) else fast[name] == pytest.approx(value)
        assert same, (name, fast[name], value)
    assert from_rows["inflow_365d"] > 0 and from_rows["degree_guarantor"] == 1
