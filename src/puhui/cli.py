"""The `puhui` command line (Typer + Rich). Bad arguments give a clear message and exit code 2."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from puhui.commands.data import data_app
from puhui.commands.model import model_app
from puhui.commands.simulate import simulate
from puhui.domain.apr import HUNDRED, apr_of_schedule
from puhui.domain.enums import DayCount, PeriodInterest, RepaymentMethod
from puhui.domain.errors import DomainValidationError
from puhui.domain.schedule import LoanTerms, Schedule, ScheduleError, generate
from puhui.money import MoneyError, format_amount, format_rate, from_minor, parse_amount, parse_rate

app = typer.Typer(help="Puhui 普惠 — digital small loans.", no_args_is_help=True, add_completion=False)
products_app = typer.Typer(help="The product catalogue.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(products_app, name="products")
app.add_typer(ledger_app, name="ledger")
app.add_typer(db_app, name="db")
app.add_typer(model_app, name="model")
app.add_typer(data_app, name="data")
app.command("simulate")(simulate)

out = Console()
err = Console(stderr=True)

DbOption = Annotated[str | None, typer.Option("--db", help="database URL (default: PUHUI_DATABASE_URL)")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _amount(value: str, name: str, allow_zero: bool = False) -> Decimal:
    try:
        return parse_amount(value, allow_zero=allow_zero)
    except MoneyError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None


def _rate(value: str, name: str) -> Decimal:
    try:
        return parse_rate(value)
    except MoneyError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None


def _date(value: str | None, name: str) -> date:
    if value is None:
        from puhui.clock import SystemClock

        return SystemClock().business_date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-01-15", param_hint=name) from None


@app.command()
def schedule(
    principal: Annotated[str, typer.Option(help="amount lent, e.g. 12000 or 12000.00")],
    annual_rate: Annotated[str, typer.Option(help="annual rate as a fraction: 0.12 = 12 %")],
    term: Annotated[int, typer.Option(help="term in months", min=1, max=600)],
    method: Annotated[RepaymentMethod, typer.Option(help="repayment method")] = RepaymentMethod.EQUAL_INSTALLMENT,
    start: Annotated[str | None, typer.Option(help="start date YYYY-MM-DD (default: today)")] = None,
    upfront_fee: Annotated[str, typer.Option(help="fee deducted at disbursement")] = "0",
    period_fee: Annotated[str, typer.Option(help="fee due with every installment")] = "0",
    day_count: Annotated[DayCount, typer.Option(help="day-count basis")] = DayCount.ACT_365,
    period_interest: Annotated[
        PeriodInterest, typer.Option(help="interest per period: monthly rate or actual days")
    ] = PeriodInterest.MONTHLY_RATE,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Print the repayment schedule, fees and APR (IRR method) of a fixed-term loan."""
    if method is RepaymentMethod.REVOLVING_DAILY:
        raise _fail("revolving_daily lines have no fixed schedule; choose a fixed-term method")
    terms = LoanTerms(
        principal=_amount(principal, "--principal"),
        rate_annual=_rate(annual_rate, "--annual-rate"),
        term_months=term,
        method=method,
        start_date=_date(start, "--start"),
        upfront_fee=_amount(upfront_fee, "--upfront-fee", allow_zero=True),
        fee_per_period=_amount(period_fee, "--period-fee", allow_zero=True),
        day_count=day_count,
        period_interest=period_interest,
    )
    try:
        result = generate(terms)
        apr = apr_of_schedule(result)
    except (ScheduleError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(schedule_json(result, apr), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_schedule(result, apr)


def schedule_json(result: Schedule, apr_percent: Decimal) -> dict[str, Any]:
    """The JSON contract of DESIGN.md: installments, upfront_fee, total_interest, total_fees, apr."""
    return {
        "installments": [
            {
                "n": i.n,
                "due_date": i.due_date.isoformat(),
                "principal": format_amount(i.principal),
                "interest": format_amount(i.interest),
                "fee": format_amount(i.fee),
                "payment": format_amount(i.payment),
                "balance": format_amount(i.balance),
            }
            for i in result.installments
        ],
        "upfront_fee": format_amount(result.terms.upfront_fee),
        "total_interest": format_amount(result.total_interest),
        "total_fees": format_amount(result.total_fees),
        "total_repayment": format_amount(result.total_payments),
        "apr": format_rate(apr_percent / HUNDRED),
        "apr_percent": str(apr_percent),
    }


def _print_schedule(result: Schedule, apr: Decimal) -> None:
    t = result.terms
    table = Table(title=f"{t.method.value} · {format_amount(t.principal)} · {t.term_months} months")
    for column in ("n", "due date", "principal", "interest", "fee", "payment", "balance"):
        table.add_column(column, justify="right")
    for i in result.installments:
        table.add_row(
            str(i.n),
            i.due_date.isoformat(),
            *(format_amount(v) for v in (i.principal, i.interest, i.fee, i.payment, i.balance)),
        )
    out.print(table)
    out.print(
        f"upfront fee {format_amount(t.upfront_fee)} · total interest {format_amount(result.total_interest)}"
        f" · total fees {format_amount(result.total_fees)} · [bold]APR {apr} %[/] (IRR method)"
    )


def _container(db: str | None) -> Any:
    from pydantic import ValidationError

    from puhui.bootstrap import build

    try:
        return build(db)
    except ValidationError as exc:
        problems = "; ".join(f"PUHUI_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise _fail(f"bad setting: {problems}") from None


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="server processes (one per core is usual)", min=1, max=64)] = 1,
    access_log: Annotated[bool, typer.Option(help="log every request (method, path, status)")] = True,
) -> None:
    """Serve the web app and API (migrates the database first)."""
    import os

    import uvicorn

    from puhui.api.app import create_app

    container = _container(db)
    container.db.migrate()
    out.print(f"Puhui on http://{host}:{port}  (API docs: /docs, database: {container.db.dialect}, workers: {workers})")
    if workers == 1:
        uvicorn.run(create_app(container), host=host, port=port, log_level="info", access_log=access_log)
        return
    # each worker process builds its own container from the environment
    os.environ["PUHUI_DATABASE_URL"] = container.db.url
    uvicorn.run(
        "puhui.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )


@app.command("bank-sim")
def bank_sim(
    port: Annotated[int, typer.Option(help="port", min=1, max=65535)] = 8100,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    db: Annotated[str, typer.Option("--db", help="the simulator's own book")] = "sqlite:///var/bank-sim.db",
    callback_url: Annotated[
        str, typer.Option(help="where results are sent ('' for none)")
    ] = "http://127.0.0.1:8000/v1/callbacks/bank",
    secret: Annotated[str, typer.Option(help="HMAC secret shared with the platform", envvar="PUHUI_BANK_SECRET")] = (
        "demo-bank-secret"
    ),
    latency_ms: Annotated[int, typer.Option(help="delay before answering and calling back", min=0)] = 50,
    failure_rate: Annotated[float, typer.Option(help="share of payouts that fail, 0 to 1", min=0.0, max=1.0)] = 0.0,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
) -> None:
    """Run the bank / payment-channel simulator as its own HTTP service."""
    import uvicorn

    from puhui.adapters.bank.simulator import SimulatorSettings, create_simulator_app

    settings = SimulatorSettings(
        database_url=db,
        callback_url=callback_url or None,
        secret=secret,
        latency_ms=latency_ms,
        failure_rate=failure_rate,
        seed=seed,
    )
    out.print(f"bank simulator on http://{host}:{port} (callbacks to {settings.callback_url or 'nobody'})")
    uvicorn.run(create_simulator_app(settings), host=host, port=port, log_level="warning")


@app.command()
def demo(
    db: DbOption = None,
    seed: Annotated[int, typer.Option(help="random seed for demo data")] = 7,
    borrowers: Annotated[int, typer.Option(help="borrowers in the demo history (0: none)", min=0)] = 2000,
    days: Annotated[int, typer.Option(help="business days of demo history, ending yesterday", min=1)] = 365,
) -> None:
    """Create and migrate the database and seed the demo lender: products, chart of accounts, staff
    users, and (once) a year of history made through the real use cases."""
    from puhui.bootstrap import prepare, seed_demo_capital, seed_demo_staff

    container = _container(db)
    try:
        loaded = prepare(container)
        seed_demo_capital(container)
        created = seed_demo_staff(container)
    except DomainValidationError as exc:
        raise _fail(str(exc)) from None
    table = Table(title="Demo lender: products")
    for column in ("code", "name", "method", "version", "warnings"):
        table.add_column(column)
    for item in loaded:
        warnings = "; ".join(w.rule_id for w in item.warnings)
        table.add_row(
            item.product.code, item.product.name, item.product.repayment_method.value, str(item.version), warnings
        )
    out.print(table)
    out.print(f"seed {seed}: chart of accounts open; database {container.db.dialect} ready")
    if created:
        out.print(f"staff users created (password 'demo'): {', '.join(created)}")
    _demo_history(container, borrowers, days, seed)


def _demo_history(container: Any, borrowers: int, days: int, seed: int) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from puhui.services.demo_history import has_history, seed_history

    if borrowers == 0:
        return
    if has_history(container):
        out.print("demo history already present: kept as it is")
        return
    if not container.settings.is_demo:
        raise _fail("demo history is generated only with PUHUI_ENV=demo")
    columns = (TextColumn("demo history: business days"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out) as bar:
        task = bar.add_task("days", total=days)
        summary = seed_history(container, borrowers, days, seed, lambda done, _total: bar.update(task, completed=done))
    states = ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items()))
    out.print(f"demo history: {summary.borrowers} borrowers, {summary.loans} loans over {summary.days} days ({states})")


@app.command()
def reconcile(db: DbOption = None) -> None:
    """Finish disbursements left pending: ask the bank for each, then post, void or resubmit."""
    from puhui.services.disbursement import reconcile as run

    container = _container(db)
    report = run(container)
    out.print(
        f"checked {report.checked} · resubmitted {report.resubmitted} · posted {report.posted} · "
        f"failed {report.failed} · still pending {report.still_pending}"
    )


@app.command()
def eod(
    date_: Annotated[
        str | None, typer.Option("--date", help="business date to close, YYYY-MM-DD (default: today)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Run the end of day for a business date, catching up missed days in order (idempotent)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from puhui.services.borrowers import Conflict
    from puhui.services.eod import last_completed, run_eod

    container = _container(db)
    container.db.migrate()
    target = _date(date_, "--date")
    last = container.db.read(last_completed)
    days = (target - last).days if last else 1
    with Progress(TextColumn("end of day"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=out) as bar:
        task = bar.add_task("eod", total=max(days, 1))
        try:
            result = run_eod(container, target, lambda _day, _summary: bar.advance(task))
        except DomainValidationError as exc:
            raise _fail(str(exc)) from None
        except Conflict as exc:
            raise _fail(str(exc)) from None
    if result.already_done:
        out.print(f"{target}: already closed; nothing to do")
        return
    for s in result.ran[-5:]:
        out.print(
            f"{s.business_date}: interest {format_amount(from_minor(s.interest_accrued_minor))} on {s.loans_accrued}"
            f" loans · penalty {format_amount(from_minor(s.penalty_accrued_minor))} · billed {s.installments_billed}"
            f" · overdue {s.loans_overdue} · provisions {format_amount(from_minor(s.provision_change_minor))}"
        )
    out.print(f"closed {len(result.ran)} business day(s) through {target}")


@app.command()
def retention(
    date_: Annotated[
        str | None, typer.Option("--date", help="business date to apply the periods on (default: today)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report who is due; change nothing")] = False,
    db: DbOption = None,
) -> None:
    """Anonymise the borrowers past their retention period and delete old sign-in records
    (periods: PUHUI_RETENTION_NO_LOAN_DAYS, _AFTER_LOANS_YEARS, _SIGN_IN_DAYS; idempotent)."""
    from puhui.services.retention import RetentionRule, run_retention

    container = _container(db)
    container.db.migrate()
    today = container.clock.business_date()
    on = _date(date_, "--date") if date_ else today
    if on > today and not dry_run:
        raise _fail(f"cannot apply the periods on {on} before it starts; today is {today} (try --dry-run)")
    report = run_retention(container, on, dry_run=dry_run)
    if dry_run and report.anonymised:
        table = Table(title=f"Due for anonymisation on {on}")
        for column in ("borrower", "rule", "last activity", "due on"):
            table.add_column(column)
        for d in report.anonymised[:50]:
            table.add_row(d.borrower_id, d.rule.value, d.last_activity_on.isoformat(), d.due_on.isoformat())
        out.print(table)
    verb = "due" if dry_run else "anonymised"
    out.print(
        f"{on}: {len(report.anonymised)} borrower(s) {verb} (never borrowed {report.count(RetentionRule.NO_LOAN)},"
        f" loans ended {report.count(RetentionRule.LOANS_ENDED)}) · held by an open loan or pending application"
        f" {report.held} · sign-in records {'due' if dry_run else 'deleted'} {report.sign_in_rows_deleted}"
    )
    if report.rows:
        out.print("rows changed: " + ", ".join(f"{t} {n}" for t, n in sorted(report.rows.items())))


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply every migration."""
    container = _container(db)
    container.db.migrate()
    out.print("database is at the latest revision")


@products_app.command("load")
def products_load(
    files: Annotated[list[Path], typer.Argument(help="product TOML files", exists=True, dir_okay=False)],
    db: DbOption = None,
) -> None:
    """Validate product definitions and store them (all or nothing)."""
    from puhui.services.catalogue import load_products

    container = _container(db)
    container.db.migrate()
    try:
        loaded = load_products(container.db, list(files), container.clock.business_date())
    except DomainValidationError as exc:
        raise _fail(str(exc)) from None
    for item in loaded:
        out.print(f"{item.product.code}: version {item.version}")
        for w in item.warnings:
            out.print(f"  [yellow]warning[/] {w.message}")


@products_app.command("list")
def products_list(db: DbOption = None) -> None:
    """List the active products."""
    from puhui.services.catalogue import list_products

    container = _container(db)
    table = Table(title="Products")
    for column in ("code", "name", "method", "amount", "terms", "annual rate", "day count"):
        table.add_column(column)
    for p in list_products(container.db):
        table.add_row(
            p.code,
            p.name,
            p.repayment_method.value,
            f"{format_amount(p.amount_min)}–{format_amount(p.amount_max)}",
            ",".join(str(t) for t in p.term_options_months),
            f"{format_rate(p.rate_annual_min)}–{format_rate(p.rate_annual_max)}",
            p.day_count.value,
        )
    out.print(table)


@ledger_app.command("trial-balance")
def trial_balance(
    db: DbOption = None,
    as_of: Annotated[str | None, typer.Option(help="business date YYYY-MM-DD (default: everything)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The trial balance: debits and credits per chart account, and whether they agree."""
    from puhui.money import from_minor
    from puhui.services.accounting import get_trial_balance

    container = _container(db)
    tb = get_trial_balance(container.db, date.fromisoformat(as_of) if as_of else None)
    if as_json:
        body = {
            "accounts": [
                {
                    "code": line.code.value,
                    "name": line.name,
                    "type": line.type.value,
                    "debits": format_amount(from_minor(line.debits_minor)),
                    "credits": format_amount(from_minor(line.credits_minor)),
                    "balance": format_amount(from_minor(line.balance_minor)),
                }
                for line in tb.lines
            ],
            "debits": format_amount(from_minor(tb.debits_minor)),
            "credits": format_amount(from_minor(tb.credits_minor)),
            "balanced": tb.balanced,
        }
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="Trial balance")
    for column in ("code", "account", "debits", "credits", "balance"):
        table.add_column(column, justify="right" if column in ("debits", "credits", "balance") else "left")
    for line in tb.lines:
        table.add_row(
            line.code.value,
            line.name,
            *(format_amount(from_minor(v)) for v in (line.debits_minor, line.credits_minor, line.balance_minor)),
        )
    out.print(table)
    status = "[green]balanced[/]" if tb.balanced else "[red]NOT balanced[/]"
    out.print(
        f"debits {format_amount(from_minor(tb.debits_minor))} · credits "
        f"{format_amount(from_minor(tb.credits_minor))} · {status}"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
