"""Alternative data in and out: an upload is validated row by row, its good rows kept once each
(a re-sent row is a duplicate), its bad rows returned with the reasons, and the batch recorded.
Nothing is taken without the consent scope of its source; reading back for a decision gives only
the sources whose consent is still active.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, func, literal, null, select, union_all

from puhui.adapters.db.tables import borrower_data, consents, data_batches
from puhui.bootstrap import Container
from puhui.domain.access import ConsentScope, Principal, Role, SubjectKind
from puhui.risk.data.formats import InputFormat
from puhui.risk.data.schemas import Rejected, Source, columns, validate_rows
from puhui.risk.data.storage import from_payload, row_date, row_key, to_payload
from puhui.services.borrowers import Forbidden, active_scopes, owned_borrower, require_consent

# staff who may load a borrower's data (a borrower may load their own)
DATA_ROLES = (Role.OPS, Role.RISK, Role.OFFICER, Role.ADMIN)
KEPT_REJECTIONS = 1000  # in the batch record; the response carries them all


@dataclass(frozen=True, slots=True)
class IngestResult:
    batch_id: str
    source: Source
    received: int
    accepted: int
    duplicates: int
    rejected: list[Rejected]

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "source": self.source.value,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [_rejection(r) for r in self.rejected],
        }


def _rejection(r: Rejected) -> dict[str, Any]:
    return {"index": r.index, "problems": [{"field": p.field, "message": p.message} for p in r.problems]}


def _check_caller(caller: Principal) -> None:
    if caller.kind is SubjectKind.STAFF and not caller.has_any(DATA_ROLES):
        raise Forbidden("only operations, risk, officer or admin staff load a borrower's data")


def ingest(
    container: Container,
    borrower_id: str,
    source: Source,
    rows: Sequence[Any],
    input_format: InputFormat,
    caller: Principal,
) -> IngestResult:
    _check_caller(caller)
    checked = validate_rows(source, rows)
    now = container.clock.now()
    batch_id = str(uuid.uuid4())

    def work(conn: Connection) -> IngestResult:
        owned_borrower(conn, borrower_id, caller)
        require_consent(conn, borrower_id, source.scope)
        keyed = {row_key(source, r): r for r in checked.accepted}  # the last copy of a key wins
        known = _known_keys(conn, borrower_id, source, list(keyed))
        fresh = [
            {
                "borrower_id": borrower_id,
                "source": source.value,
                "row_key": key,
                "observed_on": row_date(source, r),
                "payload_json": to_payload(r),
                "batch_id": batch_id,
                "ingested_at": now,
            }
            for key, r in keyed.items()
            if key not in known
        ]
        if fresh:
            conn.execute(borrower_data.insert(), fresh)
        result = IngestResult(
            batch_id, source, len(rows), len(fresh), len(checked.accepted) - len(fresh), checked.rejected
        )
        conn.execute(
            data_batches.insert().values(
                id=batch_id,
                borrower_id=borrower_id,
                source=source.value,
                input_format=input_format.value,
                received=result.received,
                accepted=result.accepted,
                duplicates=result.duplicates,
                rejected=len(result.rejected),
                rejections_json=json.dumps([_rejection(r) for r in result.rejected[:KEPT_REJECTIONS]]),
                actor=caller.subject_id,
                created_at=now,
            )
        )
        return result

    return container.db.transaction(work)


def _known_keys(conn: Connection, borrower_id: str, source: Source, keys: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = conn.execute(
            select(borrower_data.c.row_key).where(
                and_(
                    borrower_data.c.borrower_id == borrower_id,
                    borrower_data.c.source == source.value,
                    borrower_data.c.row_key.in_(chunk),
                )
            )
        )
        known.update(r.row_key for r in rows)
    return known


def _consented_payloads(conn: Connection, borrower_id: str) -> tuple[list[Source], dict[Source, list[str]]]:
    """The sources whose consent is active now, and their stored payloads in the order they came."""
    scopes: set[ConsentScope] = active_scopes(conn, borrower_id)
    allowed = [s for s in Source if s.scope in scopes]
    payloads: dict[Source, list[str]] = {}
    if not allowed:
        return allowed, payloads
    rows = conn.execute(
        select(borrower_data.c.source, borrower_data.c.payload_json)
        .where(
            and_(
                borrower_data.c.borrower_id == borrower_id,
                borrower_data.c.source.in_([s.value for s in allowed]),
            )
        )
        .order_by(borrower_data.c.id)
    )
    for r in rows:
        payloads.setdefault(Source(r.source), []).append(r.payload_json)
    return allowed, payloads


def consented_data(conn: Connection, borrower_id: str) -> dict[Source, list[dict[str, Any]]]:
    """The borrower's stored rows of every source whose consent is active now, in schema columns."""
    allowed, payloads = _consented_payloads(conn, borrower_id)
    return {s: [from_payload(s, p) for p in payloads.get(s, [])] for s in allowed}


DataVersion = tuple[tuple[str, ...], int, int]


def data_version(scopes: set[ConsentScope], held: Iterable[tuple[str, int, int]]) -> DataVersion:
    """What identifies the data a decision would read now, from the borrower's stored rows per
    source (`(source, newest row id, number of rows)`): the consented sources, the newest and the
    number of their rows. Rows are only ever added, so equal versions mean equal data."""
    allowed = tuple(sorted(s.value for s in Source if s.scope in scopes))
    kept = [(newest, n) for source, newest, n in held if source in allowed]
    return allowed, max((newest for newest, _ in kept), default=0), sum(n for _, n in kept)


def consents_and_data_version(conn: Connection, borrower_id: str) -> tuple[set[ConsentScope], DataVersion]:
    """The active consent scopes and the data version (`data_version`), in one statement."""
    scopes_q = select(
        literal("consent").label("what"), consents.c.scope.label("name"), null().label("newest"), null().label("n")
    ).where(and_(consents.c.borrower_id == borrower_id, consents.c.revoked_at.is_(None)))
    data_q = (
        select(
            literal("data").label("what"),
            borrower_data.c.source.label("name"),
            func.max(borrower_data.c.id).label("newest"),
            func.count(borrower_data.c.id).label("n"),
        )
        .where(borrower_data.c.borrower_id == borrower_id)
        .group_by(borrower_data.c.source)
    )
    rows = conn.execute(union_all(scopes_q, data_q)).all()
    scopes = {ConsentScope(r.name) for r in rows if r.what == "consent"}
    held = [(str(r.name), int(r.newest), int(r.n)) for r in rows if r.what == "data"]
    return scopes, data_version(scopes, held)


def consented_frames(conn: Connection, borrower_id: str) -> dict[Source, pl.DataFrame]:
    """The same rows as `consented_data`, as one Polars frame per source, parsed in one pass
    (newline-delimited JSON) instead of row by row: what a decision reads. Amounts come back
    as Float64 yuan from the stored fen — the features are floats; money is never computed here."""
    _, payloads = _consented_payloads(conn, borrower_id)
    return {source: _frame(source, texts) for source, texts in payloads.items()}


def _frame(source: Source, payloads: list[str]) -> pl.DataFrame:
    raw = pl.read_ndjson("\n".join(payloads).encode(), infer_schema_length=None)
    out = []
    for name in columns(source):
        minor, plain = f"{name}_minor", name
        parts = []
        if minor in raw.columns:
            parts.append(pl.col(minor).cast(pl.Float64) / 100)
        if plain in raw.columns:
            parts.append(pl.col(plain))
        out.append((pl.coalesce(parts) if parts else pl.lit(None)).alias(name))
    return raw.select(out)
