"""The end-of-day run for one business date, set-based: a fixed number of SQL statements whatever
the number of loans, each reading only the one servicing row per loan (never a loan's history).

Order for date D (one transaction, so a day is all-or-nothing):
1. interest accrual: per loan, round(period interest x elapsed days / period days) minus what the
   period has already accrued (domain/servicing.accrued_target), kept in the loan's servicing row;
   the ledger gets the day's total (accrued interest / interest income) — the per-loan sub-ledger
   and its control account, as in any core-banking GL;
2. penalty interest on the overdue base (billed, unpaid principal and interest) for loans overdue
   before D (domain/servicing.penalty_target), one transfer likewise;
3. the servicing rows take the new accrued amounts and are marked accrued through D;
4. billing of installments due on D: per-period fees and the period's accrued interest move to
   each billed loan's receivable accounts (one transfer each, an entry per loan), billed amounts
   move from "accrued"/"not due" to "due", the next installment becomes the current period;
5. days past due, the five-category class (never better than the DPD floor, never upgraded
   without a recorded reason: 关注 -> 正常 once a loan is cured and kept current for the
   observation period, domain/accrual.cure_upgrade, each upgrade recorded in risk_class_changes)
   and the IFRS 9 stage;
6. provisions: each loan's required general + specific reserve; the book-wide change is posted.

Integer rounding half-up is (2n + d) / (2d) over non-negative integers, the same as
money.div_half_up; tests check the SQL against the Python reference.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

from puhui.adapters.db import ledger_repository
from puhui.domain.accrual import (
    CURE_OBSERVATION_PERIODS,
    CURE_REASON,
    DEFAULT_PROVISIONS,
    ProvisionTable,
    RiskClass,
    cure_observed_from,
)
from puhui.domain.ledger import AccountCode, AccountKey, Side, TransferCode
from puhui.domain.postings import accrual, provision_change
from puhui.domain.servicing import PPM, ScheduleChangeKind
from puhui.money import rate_ppm
from puhui.services.accounting import post_in


@dataclass(frozen=True, slots=True)
class DaySummary:
    business_date: str
    loans_accrued: int = 0
    interest_accrued_minor: int = 0
    loans_in_penalty: int = 0
    penalty_accrued_minor: int = 0
    installments_billed: int = 0
    fees_billed_minor: int = 0
    loans_overdue: int = 0
    loans_upgraded: int = 0
    provision_change_minor: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class _Sql:
    """The few expressions that differ between PostgreSQL and SQLite."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def days(self, later: str, earlier: str) -> str:
        if self.pg:
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    @property
    def day(self) -> str:
        return "CAST(:d AS DATE)" if self.pg else ":d"

    def greatest(self, *args: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({', '.join(args)})"

    def least(self, *args: str) -> str:
        return f"{'LEAST' if self.pg else 'MIN'}({', '.join(args)})"


def _half_up(numerator: str, denominator: str) -> str:
    return f"((2 * ({numerator}) + ({denominator})) / (2 * ({denominator})))"


def run_day(conn: Connection, d: date, provisions: ProvisionTable = DEFAULT_PROVISIONS) -> DaySummary:
    """Everything the end of business date `d` posts and updates, inside the caller's transaction."""
    q = _Sql(conn.dialect.name)
    p: dict[str, object] = {"d": d}
    pending = f"s.status = 'active' AND s.last_eod_date < {q.day}"

    # 1. interest accrual
    elapsed = q.least(q.greatest(q.days(q.day, "s.period_start"), "0"), "s.period_days")
    interest_target = _half_up(f"s.period_interest_minor * {elapsed}", "s.period_days")
    accruing = f"{pending} AND s.next_due_date IS NOT NULL AND s.period_days > 0"
    # each loan's accrual lives in its servicing row until billed; the ledger gets the day's total
    n_interest, interest_total = conn.execute(
        text(
            f"""
        SELECT COUNT(*), COALESCE(SUM({interest_target} - s.accrued_in_period_minor), 0)
        FROM loan_servicing AS s WHERE {accruing} AND {interest_target} > s.accrued_in_period_minor"""
        ),
        p,
    ).one()
    n_interest, interest_total = int(n_interest), int(interest_total)
    if interest_total:
        post_in(conn, [accrual(f"eod:{d}:interest", "", TransferCode.INTEREST_ACCRUAL, interest_total, d)])

    # 2. penalty interest on the overdue base; unpaid interest compounds at the penalty rate
    overdue_days = q.days(q.day, q.greatest("s.last_eod_date", "s.overdue_since"))
    basis = f"(s.penalty_basis_days + (s.due_principal_minor + s.due_interest_minor) * {overdue_days})"
    penalty_target = _half_up(f"{basis} * s.penalty_rate_ppm", f"s.basis_days * {PPM}")
    in_penalty = f"{pending} AND s.overdue_since IS NOT NULL AND s.overdue_since < {q.day}"
    penalty_rows = f"""
        SELECT s.penalty_account_id AS account_id, {penalty_target} - s.penalty_posted_minor AS amount
        FROM loan_servicing AS s WHERE {in_penalty}"""
    n_penalty, penalty_total = _post_set(
        conn, f"eod:{d}:penalty", TransferCode.PENALTY_ACCRUAL, d, penalty_rows, p, AccountCode.PENALTY_INCOME
    )

    # 3. the servicing rows take what was posted, in one pass
    conn.execute(
        text(
            f"""
        UPDATE loan_servicing AS s SET
          accrued_in_period_minor = CASE WHEN {accruing} THEN {interest_target}
                                         ELSE s.accrued_in_period_minor END,
          penalty_minor = CASE WHEN {in_penalty} THEN s.penalty_minor + {penalty_target} - s.penalty_posted_minor
                               ELSE s.penalty_minor END,
          penalty_posted_minor = CASE WHEN {in_penalty} THEN {penalty_target} ELSE s.penalty_posted_minor END,
          penalty_basis_days = CASE WHEN {in_penalty} THEN {basis} ELSE s.penalty_basis_days END,
          last_eod_date = {q.day}
        WHERE {pending}"""
        ),
        p,
    )

    # 4. billing of the installments due on d
    billing = f"s.status = 'active' AND s.next_due_date = {q.day}"
    fee_rows = f"""
        SELECT s.fee_account_id AS account_id, s.period_fee_minor AS amount
        FROM loan_servicing AS s WHERE {billing}"""
    _, fees_total = _post_set(conn, f"eod:{d}:fees", TransferCode.FEE_CHARGE, d, fee_rows, p, AccountCode.FEE_INCOME)
    billed_interest_rows = f"""
        SELECT s.interest_account_id AS account_id, s.accrued_in_period_minor AS amount
        FROM loan_servicing AS s WHERE {billing}"""
    _post_set(
        conn,
        f"eod:{d}:billing",
        TransferCode.INTEREST_BILLING,
        d,
        billed_interest_rows,
        p,
        AccountCode.ACCRUED_INTEREST,
    )
    billed = conn.execute(
        text(
            f"""
        UPDATE installments SET status = 'due'
        WHERE status = 'scheduled' AND due_date = {q.day}
          AND EXISTS (SELECT 1 FROM loan_servicing AS s
                      WHERE s.loan_id = installments.loan_id AND s.schedule_version = installments.version
                        AND s.next_seq = installments.seq AND s.status = 'active' AND s.next_due_date = {q.day})"""
        ),
        p,
    ).rowcount
    conn.execute(
        text(
            f"""
        UPDATE loan_servicing AS s SET
          due_principal_minor = s.due_principal_minor + s.period_principal_minor,
          due_interest_minor = s.due_interest_minor + s.accrued_in_period_minor,
          due_fee_minor = s.due_fee_minor + s.period_fee_minor,
          not_due_principal_minor = s.not_due_principal_minor - s.period_principal_minor,
          overdue_since = CASE
            WHEN s.overdue_since IS NULL
             AND s.period_principal_minor + s.accrued_in_period_minor + s.period_fee_minor > 0 THEN {q.day}
            ELSE s.overdue_since END,
          accrued_in_period_minor = 0,
          next_seq = s.next_seq + 1,
          period_start = s.next_due_date
        WHERE {billing}"""
        ),
        p,
    )
    next_installment = """
        FROM installments AS i
        WHERE i.loan_id = loan_servicing.loan_id AND i.version = loan_servicing.schedule_version
          AND i.seq = loan_servicing.next_seq"""
    conn.execute(
        text(
            f"""
        UPDATE loan_servicing SET
          next_due_date = (SELECT i.due_date {next_installment}),
          period_days = COALESCE((SELECT i.period_days {next_installment}), 0),
          period_interest_minor = COALESCE((SELECT i.interest_minor {next_installment}), 0),
          period_fee_minor = COALESCE((SELECT i.fee_minor {next_installment}), 0),
          period_principal_minor = COALESCE((SELECT i.principal_minor {next_installment}), 0)
        WHERE status = 'active' AND next_due_date = {q.day}"""
        ),
        p,
    )

    # 5. days past due, class and stage (only loans that are or were overdue change)
    late = q.days(q.day, "overdue_since")
    dpd = f"CASE WHEN overdue_since IS NOT NULL AND overdue_since < {q.day} THEN {late} ELSE 0 END"
    floor = (
        f"CASE WHEN {dpd} > 360 THEN {int(RiskClass.LOSS)} WHEN {dpd} > 270 THEN {int(RiskClass.DOUBTFUL)} "
        f"WHEN {dpd} > 90 THEN {int(RiskClass.SUBSTANDARD)} WHEN {dpd} > 0 THEN {int(RiskClass.SPECIAL_MENTION)} "
        f"ELSE {int(RiskClass.NORMAL)} END"
    )
    conn.execute(
        text(
            f"""
        UPDATE loan_servicing SET
          dpd = {dpd},
          max_dpd = {q.greatest("max_dpd", dpd)},
          risk_class = {q.greatest("risk_class", floor)},
          stage = CASE WHEN {dpd} > 90 THEN 3 WHEN {dpd} > 30 THEN 2 ELSE 1 END,
          current_since = CASE WHEN {dpd} > 0 THEN NULL ELSE current_since END
        WHERE status = 'active' AND (overdue_since IS NOT NULL OR dpd <> 0)"""
        ),
        p,
    )
    upgraded = _upgrade_cured(conn, q, d)
    overdue = conn.execute(text("SELECT COUNT(*) FROM loan_servicing WHERE status = 'active' AND dpd > 0")).scalar_one()

    # 6. provisions: general + specific reserve on outstanding principal; closed loans release theirs
    provision_delta = _provisions(conn, d, provisions)
    return DaySummary(
        business_date=d.isoformat(),
        loans_accrued=n_interest,
        interest_accrued_minor=interest_total,
        loans_in_penalty=n_penalty,
        penalty_accrued_minor=penalty_total,
        installments_billed=int(billed or 0),
        fees_billed_minor=fees_total,
        loans_overdue=int(overdue),
        loans_upgraded=upgraded,
        provision_change_minor=provision_delta,
    )


def _upgrade_cured(conn: Connection, q: _Sql, d: date) -> int:
    """关注 -> 正常 for the loans cured and kept current long enough (domain/accrual.cure_upgrade,
    the same conditions), each upgrade recorded with its reason (rule 9). Returns how many."""
    observed = "CAST(:observed AS DATE)" if q.pg else ":observed"
    paid_since = f"""(SELECT COUNT(*) FROM installments AS i
        WHERE i.loan_id = s.loan_id AND i.status = 'paid' AND i.due_date > s.current_since
          AND i.due_date <= {q.day})"""
    restructured = f"""EXISTS (SELECT 1 FROM schedule_changes AS c
        WHERE c.loan_id = s.loan_id AND c.kind = '{ScheduleChangeKind.RESTRUCTURE_EXTENSION.value}')"""
    # an officer's upgrade recorded today (services/classification) is today's one change of class
    changed_today = f"""EXISTS (SELECT 1 FROM risk_class_changes AS r
        WHERE r.loan_id = s.loan_id AND r.business_date = {q.day})"""
    cured = (
        f"s.status = 'active' AND s.risk_class = {int(RiskClass.SPECIAL_MENTION)} AND s.dpd = 0"
        f" AND s.current_since IS NOT NULL AND s.current_since <= {observed}"
        f" AND {paid_since} >= {CURE_OBSERVATION_PERIODS} AND NOT {restructured} AND NOT {changed_today}"
    )
    p = {"d": d, "observed": cure_observed_from(d), "reason": CURE_REASON, "now": datetime.now(UTC)}
    count = conn.execute(
        text(
            f"""
        INSERT INTO risk_class_changes (loan_id, business_date, from_class, to_class, reason, current_since, actor,
                                        created_at)
        SELECT s.loan_id, {q.day}, s.risk_class, {int(RiskClass.NORMAL)}, :reason, s.current_since, 'eod', :now
        FROM loan_servicing AS s WHERE {cured}"""
        ),
        p,
    ).rowcount
    if count:
        conn.execute(
            text(
                f"""
            UPDATE loan_servicing SET risk_class = {int(RiskClass.NORMAL)}
            WHERE loan_id IN (SELECT loan_id FROM risk_class_changes WHERE business_date = {q.day} AND actor = 'eod')"""
            ),
            p,
        )
    return int(count or 0)


def _provisions(conn: Connection, d: date, table: ProvisionTable) -> int:
    general = rate_ppm(table.general)
    specific = " ".join(f"WHEN {int(c)} THEN {rate_ppm(table.specific_rate(c))}" for c in RiskClass)
    outstanding = "CASE WHEN status = 'active' THEN due_principal_minor + not_due_principal_minor ELSE 0 END"
    required = (
        f"({_half_up(f'({outstanding}) * {general}', str(PPM))}"
        f" + {_half_up(f'({outstanding}) * (CASE risk_class {specific} ELSE 0 END)', str(PPM))})"
    )
    changing = f"(status = 'active' OR provision_minor <> 0) AND {required} <> provision_minor"
    delta = int(
        conn.execute(
            text(f"SELECT COALESCE(SUM({required} - provision_minor), 0) FROM loan_servicing WHERE {changing}")
        ).scalar_one()
    )
    if delta:
        post_in(conn, [provision_change(f"eod:{d}:provisions", delta, d)])
        conn.execute(text(f"UPDATE loan_servicing SET provision_minor = {required} WHERE {changing}"))
    return delta


def _post_set(
    conn: Connection,
    transfer_id: str,
    code: TransferCode,
    d: date,
    rows_sql: str,
    params: dict[str, object],
    counter: AccountCode,
) -> tuple[int, int]:
    """Post one transfer whose debit entries come from a query (account_id, amount) and whose
    credit is their total on `counter`. Returns (entries, total). Nothing is posted for no rows."""
    conn.execute(
        text(
            f"""
        INSERT INTO ledger_entries (transfer_id, seq, account_id, side, amount_minor)
        SELECT :tid, ROW_NUMBER() OVER (ORDER BY q.account_id), q.account_id, 'D', q.amount
        FROM ({rows_sql}) AS q WHERE q.amount > 0"""
        ),
        {**params, "tid": transfer_id},
    )
    count, total = conn.execute(
        text("SELECT COUNT(*), COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE transfer_id = :tid"),
        {"tid": transfer_id},
    ).one()
    count, total = int(count), int(total)
    if count == 0:
        return 0, 0
    counter_id = ledger_repository.ensure_accounts(conn, [AccountKey(counter)])[AccountKey(counter)]
    conn.execute(
        text(
            "INSERT INTO ledger_entries (transfer_id, seq, account_id, side, amount_minor) "
            "VALUES (:tid, 0, :aid, :side, :amount)"
        ),
        {"tid": transfer_id, "aid": counter_id, "side": Side.CREDIT.value, "amount": total},
    )
    digest = hashlib.sha256(f"{transfer_id}|{code.value}|{d}|{total}|{count + 1}".encode()).hexdigest()
    conn.execute(
        text(
            "INSERT INTO ledger_transfers (id, code, business_date, reverses_id, content_hash, total_minor,"
            " entry_count, description, created_at) VALUES (:tid, :code, :d, NULL, :hash, :total, :n, :desc, :now)"
        ),
        {
            "tid": transfer_id,
            "code": code.value,
            "d": d,
            "hash": digest,
            "total": total,
            "n": count + 1,
            "desc": f"end of day {d}: {code.value} on {count} loans",
            "now": datetime.now(UTC),
        },
    )
    conn.execute(
        text(
            """
        UPDATE ledger_accounts SET
          debits_posted_minor = debits_posted_minor + x.d,
          credits_posted_minor = credits_posted_minor + x.c,
          version = version + 1
        FROM (SELECT account_id,
                     SUM(CASE WHEN side = 'D' THEN amount_minor ELSE 0 END) AS d,
                     SUM(CASE WHEN side = 'C' THEN amount_minor ELSE 0 END) AS c
              FROM ledger_entries WHERE transfer_id = :tid GROUP BY account_id) AS x
        WHERE ledger_accounts.id = x.account_id"""
        ),
        {"tid": transfer_id},
    )
    return count, total
