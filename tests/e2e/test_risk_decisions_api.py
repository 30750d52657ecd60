"""The credit decision through the API: consent first; features from the borrower's consented
data -> model -> fraud checks -> policy tables; every decision stored and replayable; velocity,
rings and tampered devices sent to review; knock-outs declined with their reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import contracts, loans, risk_decisions
from puhui.api.app import create_app
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.enums import BorrowerKind
from puhui.services import auth, seeding, servicing
from puhui.services.decisions import risk_engine
from tests.helpers import borrower_token, phone, resident_id, staff_token

FINANCE = Principal(SubjectKind.STAFF, "fin-1", Role.FINANCE)


@dataclass
class Setup:
    client: TestClient
    container: Container
    db: Database


@pytest.fixture
def setup(db: Database) -> Iterator[Setup]:
    container = Container(
        load_settings(database_url=db.url, env="demo"), db, FixedClock(datetime(2026, 11, 2, 2, tzinfo=UTC))
    )
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    with TestClient(create_app(container)) as client:
        yield Setup(client, container, db)


def _person(s: Setup, n: int, **kw: object) -> tuple[dict[str, str], str]:
    who = seeding.onboard(
        s.container, BorrowerKind.INDIVIDUAL, f"用户{n}", kw.pop("id_number", resident_id(n)), phone(n), **kw
    )  # type: ignore[arg-type]
    return borrower_token(s.client, phone(n)), who.borrower_id


def _pre_approve(s: Setup, headers: dict[str, str], borrower_id: str, amount: str = "10000.00"):  # type: ignore[no-untyped-def]
    body = {"borrower_id": borrower_id, "product_code": "PH-FLAT", "amount": amount, "term_months": 12}
    return s.client.post("/v1/risk/decisions", json=body, headers=headers)


def _apply(s: Setup, headers: dict[str, str], borrower_id: str, device: str | None = None):  # type: ignore[no-untyped-def]
    body = {
        "borrower_id": borrower_id,
        "product_code": "PH-FLAT",
        "amount": "6000.00",
        "term_months": 12,
        "purpose": "家电",
    }
    if device:
        body["device_id"] = device
    return s.client.post("/v1/applications", json=body, headers=headers)


def test_a_pre_approval_scores_the_borrowers_data_and_explains_itself(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 1)
    answer = _pre_approve(s, me, borrower_id)
    assert answer.status_code == 201, answer.text
    d = answer.json()
    assert d["outcome"] == "approved" and Decimal(d["credit_limit"]) >= Decimal(d["approved_amount"]) > 0
    assert 0 < d["pd"] < 1 and 300 < d["score"] < 900
    assert d["model_version"] == risk_engine(s.container).model.version
    assert d["policy_version"].startswith("credit-policy-") and "+sha256:" in d["policy_version"]
    assert Decimal(d["apr"]) >= Decimal(d["annual_rate"]) > 0  # PH-FLAT's APR is above its nominal rate
    assert d["factors"] and all(f["text"] and f["text_en"] for f in d["factors"])
    assert {r["code"] for r in d["reasons"]} >= {"POLICY_MET"}
    # the borrower sees the decision, not what it was made from; staff see both
    mine = s.client.get(f"/v1/risk/decisions/{d['id']}", headers=me).json()
    assert "trace" not in mine and mine["outcome"] == "approved"
    assert {k: v for k, v in mine.items() if k != "created_at"} == {k: v for k, v in d.items() if k != "created_at"}
    staff = s.client.get(f"/v1/risk/decisions/{d['id']}", headers=staff_token(s.client, "risk")).json()
    assert set(staff["trace"]) == {"knockouts", "pricing", "limits"}
    assert staff["features"]["inflow_365d"] > 0 and staff["inputs"]["product"]["code"] == "PH-FLAT"


def test_a_stored_decision_replays_to_the_same_result(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 2)
    first = _pre_approve(s, me, borrower_id).json()
    replayed = s.client.post(f"/v1/risk/decisions/{first['id']}/replay", headers=me).json()
    assert replayed["same_versions"] is True and replayed["same_result"] is True
    assert replayed["replayed"]["pd"] == first["pd"] and replayed["replayed"]["credit_limit"] == first["credit_limit"]


def test_no_decision_without_consent_and_nothing_of_someone_else(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 3)
    other, theirs = _person(s, 4)
    consents = s.client.get(f"/v1/borrowers/{borrower_id}/consents", headers=me).json()
    assessment = next(c for c in consents if c["scope"] == "credit_assessment")
    s.client.delete(f"/v1/borrowers/{borrower_id}/consents/{assessment['id']}", headers=me)
    refused = _pre_approve(s, me, borrower_id)
    assert refused.status_code == 409 and "credit_assessment" in refused.json()["error"]["message"]
    assert _pre_approve(s, me, theirs).status_code == 404
    theirs_decision = _pre_approve(s, other, theirs).json()["id"]
    assert s.client.get(f"/v1/risk/decisions/{theirs_decision}", headers=me).status_code == 404
    bad = s.client.post(
        "/v1/risk/decisions",
        json={"borrower_id": theirs, "product_code": "PH-NONE", "amount": "1000.00", "term_months": 12},
        headers=other,
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "product_code"
    stored = s.db.read(lambda c: c.execute(select(func.count()).select_from(risk_decisions)).scalar_one())
    assert stored == 1  # only the one decision that was made


def test_without_transaction_data_the_line_is_small_and_says_why(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 5, monthly_income=Decimal(0))
    d = _pre_approve(s, me, borrower_id, "20000.00").json()
    assert "LIMIT_INCOME_NOT_VERIFIED" in {r["code"] for r in d["reasons"]}
    assert Decimal(d["credit_limit"]) <= Decimal("5000")


def test_a_knock_out_declines_with_its_reason(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 6, id_number=resident_id(6, born="19400101"))  # 86 years old
    d = _pre_approve(s, me, borrower_id).json()
    assert d["outcome"] == "declined" and d["approved_amount"] == "0.00" and d["annual_rate"] is None
    first = d["reasons"][0]
    assert first["code"] == "AGE_OVER_65" and "65" in first["text"]


def test_velocity_sends_the_fourth_application_in_a_day_to_review(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 7)
    outcomes = [_apply(s, me, borrower_id).json()["decision"]["outcome"] for _ in range(4)]
    assert outcomes[:3] == ["approved"] * 3 and outcomes[3] == "review"
    risk = staff_token(s.client, "risk")
    alerts = s.client.get("/v1/risk/alerts", headers=risk).json()["alerts"]
    assert [a["kind"] for a in alerts] == ["velocity"]


def test_an_application_joining_a_device_ring_with_a_default_goes_to_review(setup: Setup) -> None:
    s = setup
    first_h, first = _person(s, 8)
    assert _apply(s, first_h, first, device="dev-ring-1").json()["decision"]["outcome"] == "approved"
    loan_id = seeding.book_active_loan(s.container, _onboarded(s, first, 8), "PH-FLAT", Decimal("5000.00"), 12)
    servicing.write_off(s.container, loan_id, "失联", FINANCE)  # the first borrower defaulted
    second_h, second = _person(s, 9)
    d = _apply(s, second_h, second, device="dev-ring-1").json()["decision"]
    assert d["outcome"] == "review"
    assert any("default" in r["text_en"] for r in d["reasons"])
    clean_h, clean = _person(s, 10)
    assert _apply(s, clean_h, clean, device="dev-clean-1").json()["decision"]["outcome"] == "approved"


def _onboarded(s: Setup, borrower_id: str, n: int) -> seeding.Onboarded:
    principal = Principal(SubjectKind.PHONE, auth.phone_hash(s.container, phone(n)), Role.BORROWER)
    return seeding.Onboarded(borrower_id, principal, phone(n))


def test_an_emulator_sends_the_application_to_review(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 11)
    s.client.post(
        f"/v1/borrowers/{borrower_id}/data/devices",
        json=[{"device_id": "emu-1", "observed_on": date(2026, 11, 1).isoformat(), "emulator": True}],
        headers=me,
    )
    d = _apply(s, me, borrower_id, device="emu-1").json()["decision"]
    assert d["outcome"] == "review" and "FRAUD_DEVICE_TAMPERED" in {r["code"] for r in d["reasons"]}


def test_monitoring_reads_psi_and_auc_from_the_live_decisions(setup: Setup) -> None:
    from sklearn.metrics import roc_auc_score

    from puhui.risk.monitoring import score_psi

    s = setup
    clock = s.container.clock
    assert isinstance(clock, FixedClock)
    clock.set_date(date(2026, 4, 1))  # loans booked now have seasoned by November
    booked = []
    for n in range(20, 26):
        who = seeding.onboard(s.container, BorrowerKind.INDIVIDUAL, f"用户{n}", resident_id(n), phone(n))
        booked.append(seeding.book_active_loan(s.container, who, "PH-FLAT", Decimal("6000.00"), 12))
    for loan_id in booked[:2]:
        servicing.write_off(s.container, loan_id, "失联", FINANCE)
    clock.set_date(date(2026, 11, 2))
    risk = staff_token(s.client, "risk")
    assert s.client.get("/v1/risk/monitoring", headers=borrower_token(s.client, phone(20))).status_code == 403
    report = s.client.get("/v1/risk/monitoring?days=365", headers=risk)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["decisions"] == 6 and body["auc"]["seasoned_loans"] == 6 and body["auc"]["defaults"] == 2

    stored = s.db.read(lambda c: [json.loads(r.result_json) for r in c.execute(select(risk_decisions.c.result_json))])
    model = risk_engine(s.container).model
    training = model.metadata["score_distribution"]
    expected = score_psi(training["shares"], training["edges"], [float(d["score"]) for d in stored])
    assert body["psi"]["value"] == round(expected.psi, 4) and body["psi"]["stability"] == expected.stability.value

    def pd_of(loan_id: str) -> float:
        joined = risk_decisions.join(contracts, contracts.c.application_id == risk_decisions.c.application_id).join(
            loans, loans.c.contract_id == contracts.c.id
        )
        query = select(risk_decisions.c.result_json).select_from(joined).where(loans.c.id == loan_id)
        return float(json.loads(s.db.read(lambda c: c.execute(query).scalar_one()))["pd"])

    labels = [1 if loan_id in booked[:2] else 0 for loan_id in booked]  # the first two were written off
    assert body["auc"]["live"] == round(roc_auc_score(labels, [pd_of(loan_id) for loan_id in booked]), 4)
    alerts = s.client.get("/v1/risk/alerts", headers=risk).json()["alerts"]
    drift = [a for a in alerts if a["kind"] == "model_drift"]
    assert bool(drift) == (expected.stability.value == "shifted" or body["auc"]["drifted"])
    again = s.client.get("/v1/risk/monitoring?days=365", headers=risk).json()
    assert again["alerts_raised"] == 0  # one alert per model and day


def test_new_data_or_a_revoked_consent_changes_the_next_decisions_features(setup: Setup) -> None:
    s = setup
    me, borrower_id = _person(s, 30)
    risk = staff_token(s.client, "risk")

    def features() -> dict[str, float | None]:
        decision = _pre_approve(s, me, borrower_id).json()["id"]
        return s.client.get(f"/v1/risk/decisions/{decision}", headers=risk).json()["features"]

    first = features()
    assert features() == first  # the same data on the same day: the same features
    more = [{"txn_id": "late-1", "occurred_on": "2026-11-01", "direction": "in", "amount": "50000.00"}]
    assert s.client.post(f"/v1/borrowers/{borrower_id}/data/transactions", json=more, headers=me).status_code == 202
    after = features()
    assert after["inflow_30d"] == pytest.approx(first["inflow_30d"] + 50000)
    consents = s.client.get(f"/v1/borrowers/{borrower_id}/consents", headers=me).json()
    shared = next(c for c in consents if c["scope"] == "transactions")
    s.client.delete(f"/v1/borrowers/{borrower_id}/consents/{shared['id']}", headers=me)
    assert features()["inflow_30d"] is None  # without the consent the data is not used
