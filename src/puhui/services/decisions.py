"""The credit decision as a use case: consent, the borrower's consented data -> features, the
fraud checks, the model and the policy tables (risk/decision.py), stored with everything it was
made from, so that it can be shown to a credit officer and replayed to the same result.

Used by the application flow (inside its transaction) and by `POST /v1/risk/decisions` (a
pre-approval: the line and rate a borrower would get, without an application).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, String, and_, bindparam, cast, func, select

from puhui.adapters.db import product_repository
from puhui.adapters.db.records import parse_record, record_bytes, record_json
from puhui.adapters.db.tables import (
    borrower_data,
    borrowers,
    consents,
    installments,
    loan_servicing,
    products,
    risk_decisions,
)
from puhui.adapters.rules.zen import ZenRules
from puhui.bootstrap import Container
from puhui.domain.access import ConsentScope, MissingConsent, Principal, SubjectKind
from puhui.domain.enums import BorrowerKind
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.identity import birth_date_of
from puhui.domain.products import parse_product
from puhui.money import ZERO, format_amount, format_rate, from_minor, round_money
from puhui.risk.data.schemas import Source
from puhui.risk.decision import Applicant, Decision, DecisionRequest, RiskInputs, decide_with_risk
from puhui.risk.features import AltData, build_features
from puhui.risk.fraud import Finding, device_findings
from puhui.risk.model import CreditModel, load_model
from puhui.services import fraud
from puhui.services.borrowers import ID_CONTEXT, Conflict, NotFound, check_owner, owned_borrower
from puhui.services.retention import ERASED
from puhui.services.risk_data import DataVersion, consented_frames, consents_and_data_version, data_version

DEMO_MODEL_DIR = Path(__file__).resolve().parents[1] / "risk" / "models" / "demo"
DEFAULT_DPD = 90


@dataclass(frozen=True, slots=True)
class RiskEngine:
    model: CreditModel
    rules: ZenRules


@lru_cache(maxsize=4)
def _engine_at(model_dir: str) -> RiskEngine:
    return RiskEngine(load_model(Path(model_dir)), ZenRules())


def risk_engine(container: Container) -> RiskEngine:
    """The model and policy tables, loaded once per process (a few ms, then cached)."""
    return _engine_at(container.settings.model_dir or str(DEMO_MODEL_DIR))


@dataclass(frozen=True, slots=True)
class Assessed:
    decision_id: str
    decision: Decision
    findings: list[Finding]
    view: dict[str, Any]  # as decision_view shows it


# --- gathering the inputs -------------------------------------------------------------------------


def _applicant(container: Container, borrower: Any, today: date) -> Applicant:
    kind = BorrowerKind(borrower.kind)
    if borrower.id_number_enc == ERASED:  # anonymised: its identifiers are tombstones (services/retention.py)
        raise Conflict(f"borrower {borrower.id} was anonymised at the end of its retention period", "borrower_id")
    age = None
    if kind is not BorrowerKind.ENTERPRISE:  # a resident ID carries the birth date
        born = birth_date_of(container.cipher.decrypt(borrower.id_number_enc, ID_CONTEXT))
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    years = None
    if kind is not BorrowerKind.INDIVIDUAL and borrower.established_on is not None:
        years = round((today - borrower.established_on).days / 365.25, 1)
    revenue = borrower.annual_revenue_minor
    return Applicant(
        kind=kind,
        region_code=borrower.region,
        industry=borrower.industry,
        age_years=age,
        years_in_business=years,
        staff_count=borrower.staff_count,
        declared_annual_revenue=from_minor(int(revenue)) if revenue is not None else None,
    )


def features_of(borrower_id: str, frames: Mapping[Source, pl.DataFrame], today: date) -> dict[str, Any]:
    """The model's alternative-data features for one borrower from their stored rows."""
    tagged = {s: f.with_columns(pl.lit(borrower_id).alias("borrower_id")) for s, f in frames.items()}
    alt = AltData.of(pl.DataFrame({"borrower_id": [borrower_id]}), tagged)
    row = build_features(alt, today).row(0, named=True)
    row.pop("borrower_id", None)
    return row


def _owed_subqueries(borrower_id: Any) -> tuple[Any, Any]:
    """What the borrower owes this lender: principal outstanding (the per-borrower limits count it)
    and the next installment of each active loan (debt service)."""
    active = and_(loan_servicing.c.borrower_id == borrower_id, loan_servicing.c.status == "active")
    next_installment = and_(
        installments.c.loan_id == loan_servicing.c.loan_id,
        installments.c.version == loan_servicing.c.schedule_version,
        installments.c.seq == loan_servicing.c.next_seq,
    )
    principal = select(
        func.coalesce(func.sum(loan_servicing.c.due_principal_minor + loan_servicing.c.not_due_principal_minor), 0)
    ).where(active)
    installment = (
        select(
            func.coalesce(
                func.sum(installments.c.principal_minor + installments.c.interest_minor + installments.c.fee_minor), 0
            )
        )
        .select_from(loan_servicing.join(installments, next_installment))
        .where(active)
    )
    return principal.scalar_subquery(), installment.scalar_subquery()


# What a decision reads of the borrower (the owner check, the applicant's facts): fewer columns than
# the whole row are fewer for PostgreSQL to send and for the driver to describe, on every decision.
_CONTEXT_BORROWER_COLUMNS = (
    "id",
    "kind",
    "phone_hash",
    "id_number_enc",
    "region",
    "industry",
    "staff_count",
    "annual_revenue_minor",
    "established_on",
    "anonymised_on",
)


@lru_cache(maxsize=1)
def _context_statement() -> Any:
    """Everything a decision reads before its features, in ONE statement (one round trip): the
    borrower, their active consent scopes, the version of their stored data, the product's
    definition and what they owe here. Built once; the ids are bound per call."""
    borrower_id = bindparam("borrower_id", type_=String)
    product_code = bindparam("product_code", type_=String)
    scopes = select(func.aggregate_strings(consents.c.scope, ",")).where(
        and_(consents.c.borrower_id == borrower_id, consents.c.revoked_at.is_(None))
    )
    per_source = (
        select(
            borrower_data.c.source,
            func.max(borrower_data.c.id).label("newest"),
            func.count(borrower_data.c.id).label("n"),
        )
        .where(borrower_data.c.borrower_id == borrower_id)
        .group_by(borrower_data.c.source)
        .subquery()
    )
    held = select(
        func.aggregate_strings(
            per_source.c.source.concat(":")
            .concat(cast(per_source.c.newest, String))
            .concat(":")
            .concat(cast(per_source.c.n, String)),
            ";",
        )
    )
    product = select(products.c.definition_json).where(
        and_(products.c.code == product_code, products.c.active.is_(True))
    )
    principal, installment = _owed_subqueries(borrower_id)
    return select(
        *(borrowers.c[name] for name in _CONTEXT_BORROWER_COLUMNS),
        scopes.scalar_subquery().label("ctx_scopes"),
        held.scalar_subquery().label("ctx_held"),
        product.scalar_subquery().label("ctx_product"),
        principal.label("ctx_owed_principal_minor"),
        installment.label("ctx_owed_installment_minor"),
    ).where(borrowers.c.id == borrower_id)


@dataclass(frozen=True, slots=True)
class Context:
    """What `_context_statement` read: the borrower row and what the decision needs beside it."""

    borrower: Any  # the borrowers row's _CONTEXT_BORROWER_COLUMNS
    scopes: set[ConsentScope]
    version: DataVersion
    product_definition: str | None  # the active product's definition (JSON), None if there is none
    exposure: Decimal  # principal outstanding here
    own_installments: Decimal  # the next installment of each active loan here


def read_context(conn: Connection, borrower_id: str, product_code: str) -> Context | None:
    """The decision's context for a borrower and a product; None if the borrower does not exist."""
    return context_of(conn.execute(_context_statement(), _context_params(borrower_id, product_code)).first())


def _context_params(borrower_id: str, product_code: str) -> dict[str, str]:
    return {"borrower_id": borrower_id, "product_code": product_code}


def context_of(row: Any) -> Context | None:
    """The `Context` of a row of `_context_statement` (None: no such borrower)."""
    if row is None:
        return None
    scopes = {ConsentScope(s) for s in (row.ctx_scopes or "").split(",") if s}
    held = []
    for part in (row.ctx_held or "").split(";"):
        if part:
            source, newest, n = part.rsplit(":", 2)
            held.append((source, int(newest), int(n)))
    return Context(
        borrower=row,
        scopes=scopes,
        version=data_version(scopes, held),
        product_definition=row.ctx_product,
        exposure=from_minor(int(row.ctx_owed_principal_minor)),
        own_installments=from_minor(int(row.ctx_owed_installment_minor)),
    )


def _elsewhere_monthly(repayments: pl.DataFrame | None, today: date) -> Decimal:
    """Average monthly installments due at other lenders over the last three months."""
    if repayments is None or repayments.is_empty():
        return ZERO
    due_on = pl.col("due_on").cast(pl.String).str.to_date("%Y-%m-%d")
    window = repayments.filter((due_on > today - timedelta(days=90)) & (due_on <= today))
    # the frame's amounts are yuan as floats of whole fen: summed and rounded back to fen, exactly
    total_minor = round(float(window["amount_due"].sum() or 0) * 100)
    return round_money(from_minor(total_minor) / 3)


def _income(kind: BorrowerKind, features: Mapping[str, Any]) -> Decimal | None:
    """Verified monthly income (individuals: money received) or net cash inflow (businesses), the
    lower of the 90-day and the 365-day rate; None without transaction data."""
    stem = "inflow" if kind is BorrowerKind.INDIVIDUAL else "net_flow"
    short, long = features.get(f"{stem}_90d"), features.get(f"{stem}_365d")
    if short is None or long is None:
        return None
    monthly = min(Decimal(str(short)) / 3, Decimal(str(long)) / 12)
    return round_money(max(monthly, ZERO))


class _FeatureCache:
    """Features and other-lender debt service per (database, borrower, business date, data
    version): the same data on the same date gives the same features, so a borrower's second look
    at their line that day skips reading and computing them. Each server process has its own."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[object, ...], tuple[dict[str, Any], Decimal]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> tuple[dict[str, Any], Decimal] | None:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], value: tuple[dict[str, Any], Decimal]) -> None:
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_FEATURES = _FeatureCache()


def _data_features(
    conn: Connection | None, container: Container, borrower_id: str, on: date, version: DataVersion | None
) -> tuple[dict[str, Any], Decimal]:
    """The features (cached while the data is unchanged); on a miss the stored rows are read on
    `conn`, or in a read of their own without one."""
    if version is None:
        if conn is None:
            version = container.db.read(lambda c: consents_and_data_version(c, borrower_id))[1]
        else:
            version = consents_and_data_version(conn, borrower_id)[1]
    key = (container.db.url, borrower_id, on, version)
    cached = _FEATURES.get(key)
    if cached is not None:
        return dict(cached[0]), cached[1]
    if conn is None:
        frames = container.db.read(lambda c: consented_frames(c, borrower_id))
    else:
        frames = consented_frames(conn, borrower_id)
    found = (features_of(borrower_id, frames, on), _elsewhere_monthly(frames.get(Source.REPAYMENTS), on))
    _FEATURES.put(key, found)
    return dict(found[0]), found[1]


def gather(
    conn: Connection | None,
    container: Container,
    borrower: Any,
    req: RequestHere,
    flags: tuple[str, ...],
    version: DataVersion | None = None,
) -> RiskInputs:
    """The decision's inputs: the borrower's data (its features, cached while it is unchanged), the
    applicant's facts, verified income and every debt service."""
    features, elsewhere_monthly = _data_features(conn, container, borrower.id, req.request.on, version)
    kind = BorrowerKind(borrower.kind)
    max_late = features.get("max_days_late_24m")
    overdue = features.get("overdue_count")
    return RiskInputs(
        request=req.request,
        applicant=_applicant(container, borrower, req.request.on),
        features=features,
        income_monthly_verified=_income(kind, features),
        debt_service_monthly=req.own_installments + elsewhere_monthly,
        bureau_max_dpd_24m=int(max_late) if max_late is not None else None,
        overdue_elsewhere=bool(overdue),
        fraud_flags=flags,
    )


# --- storing and showing --------------------------------------------------------------------------


def _inputs_record(inputs: RiskInputs, product_definition: Mapping[str, Any]) -> dict[str, Any]:
    r = inputs.request
    a = inputs.applicant  # flat fields: a shallow copy (dataclasses.asdict deep-copies, ~10x slower)
    applicant = {**{name: getattr(a, name) for name in Applicant.__dataclass_fields__}, "kind": a.kind.value}
    if a.declared_annual_revenue is not None:
        applicant["declared_annual_revenue"] = format_amount(a.declared_annual_revenue)
    return {
        "product": dict(product_definition),
        "borrower_kind": r.borrower_kind.value,
        "amount": format_amount(r.amount),
        "term_months": r.term_months,
        "on": r.on.isoformat(),
        "existing_exposure": format_amount(r.existing_exposure),
        "applicant": applicant,
        "income_monthly_verified": (
            format_amount(inputs.income_monthly_verified) if inputs.income_monthly_verified is not None else None
        ),
        "debt_service_monthly": format_amount(inputs.debt_service_monthly),
        "bureau_max_dpd_24m": inputs.bureau_max_dpd_24m,
        "overdue_elsewhere": inputs.overdue_elsewhere,
    }


def _inputs_from(request: Mapping[str, Any], features: Mapping[str, Any], flags: Sequence[str]) -> RiskInputs:
    a = dict(request["applicant"])
    revenue = a.pop("declared_annual_revenue")
    applicant = Applicant(
        **{**a, "kind": BorrowerKind(a["kind"])},
        declared_annual_revenue=Decimal(revenue) if revenue is not None else None,
    )
    income = request["income_monthly_verified"]
    return RiskInputs(
        request=DecisionRequest(
            product=parse_product(request["product"]),
            borrower_kind=BorrowerKind(request["borrower_kind"]),
            amount=Decimal(request["amount"]),
            term_months=int(request["term_months"]),
            on=date.fromisoformat(request["on"]),
            existing_exposure=Decimal(request["existing_exposure"]),
        ),
        applicant=applicant,
        features=dict(features),
        income_monthly_verified=Decimal(income) if income is not None else None,
        debt_service_monthly=Decimal(request["debt_service_monthly"]),
        bureau_max_dpd_24m=request["bureau_max_dpd_24m"],
        overdue_elsewhere=bool(request["overdue_elsewhere"]),
        fraud_flags=tuple(flags),
    )


def result_record(d: Decision) -> dict[str, Any]:
    """What a decision said, as the API shows it and as it is stored."""
    return {
        "outcome": d.outcome.value,
        "approved_amount": format_amount(d.approved_amount),
        "credit_limit": format_amount(d.credit_limit),
        "annual_rate": format_rate(d.rate_annual) if d.rate_annual is not None else None,
        "apr": format_rate(d.apr_percent / 100) if d.apr_percent is not None else None,
        "pd": round(d.pd, 6) if d.pd is not None else None,
        "score": d.score,
        "reasons": [{"code": r.code, "text": r.text_zh, "text_en": r.text_en} for r in d.reasons],
        "factors": [
            {
                "code": f.code,
                "feature": f.feature,
                "text": f.text_zh,
                "text_en": f.text_en,
                "impact": round(f.impact, 2),
            }
            for f in d.factors
        ],
        "model_version": d.model_version,
        "policy_version": d.policy_version,
    }


def _finding_record(f: Finding) -> dict[str, Any]:
    return {
        "flag": f.flag.value if f.flag else None,
        "alert": f.alert.value,
        "severity": f.severity.value,
        "text": f.text_zh,
        "text_en": f.text_en,
        "details": f.details,
    }


@dataclass(frozen=True, slots=True)
class _Decided:
    inputs: RiskInputs
    decision: Decision
    findings: list[Finding]


def _decide(
    conn: Connection | None, container: Container, ctx: Context, req: RequestHere, findings: list[Finding]
) -> _Decided:
    """Gather the inputs (reading the stored rows on `conn` if the features are not cached), add
    the device findings, and decide with the model and the policy tables: no write."""
    engine = risk_engine(container)
    flags = tuple(sorted({f.flag.value for f in findings if f.flag is not None}))
    inputs = gather(conn, container, ctx.borrower, req, flags, ctx.version)
    inputs_device = device_findings(
        bool(inputs.features.get("device_emulator")), bool(inputs.features.get("device_rooted"))
    )
    if inputs_device:
        findings = [*findings, *inputs_device]
        flags = tuple(sorted({*flags, *(f.flag.value for f in inputs_device if f.flag is not None)}))
        inputs = RiskInputs(**{**_fields(inputs), "fraud_flags": flags})
    return _Decided(inputs, decide_with_risk(inputs, engine.model, engine.rules), findings)


# built once, every column bound by name per call
_INSERT_DECISION = risk_decisions.insert().values({c.name: bindparam(c.name, type_=c.type) for c in risk_decisions.c})


def _store(
    conn: Connection,
    container: Container,
    borrower_id: str,
    req: RequestHere,
    decided: _Decided,
    application_id: str | None,
) -> Assessed:
    """The decision row (with everything it was made from) and the alerts of its findings."""
    row, assessed = _decision_row(container, borrower_id, req, decided, application_id)
    conn.execute(_INSERT_DECISION, row)
    if decided.findings:
        fraud.raise_alerts(conn, decided.findings, borrower_id, f"decision:{assessed.decision_id}", row["created_at"])
    return assessed


def _decision_row(
    container: Container, borrower_id: str, req: RequestHere, decided: _Decided, application_id: str | None
) -> tuple[dict[str, Any], Assessed]:
    """The risk_decisions row of a decision and what the caller is told of it."""
    decision, findings = decided.decision, decided.findings
    decision_id = str(uuid.uuid4())
    now = container.clock.now()
    result = record_bytes(result_record(decision))
    found = record_bytes([_finding_record(f) for f in findings])
    row = {
        "id": decision_id,
        "borrower_id": borrower_id,
        "application_id": application_id,
        "decided_on": req.request.on,
        "request_json": record_json(_inputs_record(decided.inputs, req.definition)),
        # the features may hold NaN, which only the standard library's encoding keeps
        "features_json": json.dumps(dict(decided.inputs.features), sort_keys=True),
        "fraud_json": found.decode("utf-8"),
        "result_json": result.decode("utf-8"),
        "trace_json": record_json(decision.trace),
        "model_version": decision.model_version,
        "policy_version": decision.policy_version,
        "created_at": now,
    }
    view = {
        "id": decision_id,
        "borrower_id": borrower_id,
        "application_id": application_id,
        "decided_on": req.request.on.isoformat(),
        **parse_record(result),  # the stored form: exactly what a later read returns
        "fraud": parse_record(found),
        "created_at": now,
    }
    return row, Assessed(decision_id, decision, findings, view)


def _fields(inputs: RiskInputs) -> dict[str, Any]:
    return {name: getattr(inputs, name) for name in RiskInputs.__dataclass_fields__}


def borrower_row(conn: Connection, borrower_id: str) -> Any:
    row = conn.execute(select(borrowers).where(borrowers.c.id == borrower_id)).first()
    if row is None:
        raise NotFound(f"borrower {borrower_id} was not found")
    return row


@dataclass(frozen=True, slots=True)
class RequestHere:
    """The request as the decision sees it, with what the borrower already owes this lender and
    the product's definition (stored with the decision, so it replays)."""

    request: DecisionRequest
    own_installments: Decimal
    definition: dict[str, Any]


def request_of(container: Container, ctx: Context, product_code: str, amount: Decimal, term_months: int) -> RequestHere:
    if ctx.product_definition is None:
        raise DomainValidationError([FieldProblem("product_code", f"product {product_code} does not exist")])
    product, definition = product_repository.parsed(ctx.product_definition)
    today = container.clock.business_date()
    request = DecisionRequest(product, BorrowerKind(ctx.borrower.kind), amount, term_months, today, ctx.exposure)
    return RequestHere(request, ctx.own_installments, definition)


def _context(conn: Connection, borrower_id: str, product_code: str) -> Context:
    ctx = read_context(conn, borrower_id, product_code)
    if ctx is None:
        raise NotFound(f"borrower {borrower_id} was not found")
    return ctx


def request_for(
    conn: Connection, container: Container, borrower: Any, product_code: str, amount: Decimal, term_months: int
) -> RequestHere:
    return request_of(container, _context(conn, borrower.id, product_code), product_code, amount, term_months)


def assess_in(
    conn: Connection,
    container: Container,
    borrower: Any,
    product_code: str,
    amount: Decimal,
    term_months: int,
    signals: fraud.Signals | None,
    application_id: str | None,
) -> Assessed:
    """Inside the caller's transaction: consent, fraud checks, the decision, stored. With
    `signals` (an application), its velocity and rings are checked and it is recorded."""
    ctx = _context(conn, borrower.id, product_code)
    if ConsentScope.CREDIT_ASSESSMENT not in ctx.scopes:
        raise MissingConsent(ConsentScope.CREDIT_ASSESSMENT)
    req = request_of(container, ctx, product_code, amount, term_months)
    findings: list[Finding] = []
    if signals is not None:
        findings = fraud.application_findings(conn, borrower.id, signals, container.clock.now())
    assessed = _store(conn, container, borrower.id, req, _decide(conn, container, ctx, req, findings), application_id)
    if signals is not None:
        fraud.record_signals(conn, borrower.id, assessed.decision_id, signals, container.clock.now())
    return assessed


def pre_approve(
    container: Container, borrower_id: str, product_code: str, amount: Decimal, term_months: int, caller: Principal
) -> dict[str, Any]:
    """`POST /v1/risk/decisions`: the line and price the borrower would get now (no application).

    Nothing here needs the reads and the write in one transaction (the decision records what it
    read), so on PostgreSQL it is three round trips: the context in one statement, the stored
    rows only when the features are not cached, the decision row in one autocommit statement
    (a transaction only when it raises alerts beside it)."""
    ctx = context_of(container.db.fetch_one(_context_statement(), _context_params(borrower_id, product_code)))
    if ctx is None:
        raise NotFound(f"borrower {borrower_id} was not found")
    check_owner(ctx.borrower, caller)
    if ConsentScope.CREDIT_ASSESSMENT not in ctx.scopes:
        raise MissingConsent(ConsentScope.CREDIT_ASSESSMENT)
    req = request_of(container, ctx, product_code, amount, term_months)
    decided = _decide(None, container, ctx, req, [])

    if decided.findings:  # the row and its alerts together
        assessed = container.db.transaction(lambda conn: _store(conn, container, borrower_id, req, decided, None))
    else:
        row, assessed = _decision_row(container, borrower_id, req, decided, None)
        container.db.execute_one(_INSERT_DECISION, row)
    return dict(assessed.view)


def decision_view(conn: Connection, decision_id: str) -> dict[str, Any]:
    row = conn.execute(select(risk_decisions).where(risk_decisions.c.id == decision_id)).one()
    return {
        "id": row.id,
        "borrower_id": row.borrower_id,
        "application_id": row.application_id,
        "decided_on": row.decided_on.isoformat() if isinstance(row.decided_on, date) else str(row.decided_on),
        **json.loads(row.result_json),
        "fraud": json.loads(row.fraud_json),
        "created_at": row.created_at,
    }


def _owned_decision(conn: Connection, decision_id: str, caller: Principal) -> Any:  # a risk_decisions row
    row = conn.execute(select(risk_decisions).where(risk_decisions.c.id == decision_id)).first()
    if row is None:
        raise NotFound(f"decision {decision_id} was not found")
    owned_borrower(conn, row.borrower_id, caller, missing=f"decision {decision_id}")
    return row


def get_decision(container: Container, decision_id: str, caller: Principal) -> dict[str, Any]:
    """A decision; staff also see what it was made from (inputs, features, the policy trace)."""

    def work(conn: Connection) -> dict[str, Any]:
        row = _owned_decision(conn, decision_id, caller)
        view = decision_view(conn, decision_id)
        if caller.kind is SubjectKind.STAFF:
            view["inputs"] = json.loads(row.request_json)
            view["features"] = json.loads(row.features_json)
            view["trace"] = json.loads(row.trace_json)
        return view

    return dict(container.db.read(work))


def replay(container: Container, decision_id: str, caller: Principal) -> dict[str, Any]:
    """Decide again from what was stored, with the model and tables loaded now: the same versions
    must give the same result (a different version is said, not hidden)."""

    def work(conn: Connection) -> Any:
        return _owned_decision(conn, decision_id, caller)

    row = container.db.read(work)
    engine = risk_engine(container)
    flags = [f["flag"] for f in json.loads(row.fraud_json) if f["flag"]]
    inputs = _inputs_from(json.loads(row.request_json), json.loads(row.features_json), sorted(set(flags)))
    again = result_record(decide_with_risk(inputs, engine.model, engine.rules))
    stored = json.loads(row.result_json)
    same_versions = (again["model_version"], again["policy_version"]) == (row.model_version, row.policy_version)
    return {
        "id": decision_id,
        "same_versions": same_versions,
        "same_result": again == stored,
        "stored": stored,
        "replayed": again,
    }
