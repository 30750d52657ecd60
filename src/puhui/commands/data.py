"""`puhui data ingest`: load a borrower's alternative data from a CSV, JSON or Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

data_app = typer.Typer(help="Alternative data: load a borrower's rows (consent required).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

SHOWN_REJECTIONS = 20
# staff acting from the command line: operations loading files sent by a data provider
CLI_ACTOR = "cli-ops"


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


@data_app.command("ingest")
def ingest(
    borrower: Annotated[str, typer.Option(help="the borrower's id")],
    source: Annotated[str, typer.Option(help="transactions, utility_payments, tax_invoices, repayments, ...")],
    file: Annotated[Path, typer.Option(help="a .csv, .json or .parquet file of rows in the source's columns")],
    db: Annotated[str | None, typer.Option("--db", help="database URL (default: PUHUI_DATABASE_URL)")] = None,
) -> None:
    """Validate every row, keep the good ones (once each), list the bad ones with their reasons.
    Exit 0 when every row was kept or was a duplicate, 1 when some rows were rejected, 2 when
    the file could not be used at all."""
    from puhui.bootstrap import build
    from puhui.domain.access import MissingConsent, Principal, Role, SubjectKind
    from puhui.risk.data.formats import FormatProblem, InputFormat, parse_rows
    from puhui.risk.data.schemas import Source
    from puhui.services import risk_data
    from puhui.services.borrowers import NotFound

    try:
        src = Source(source)
    except ValueError:
        raise _fail(f"--source: unknown source {source!r}; one of {', '.join(s.value for s in Source)}") from None
    fmt = InputFormat.of_path(file)
    if fmt is None:
        raise _fail(f"--file: {file.name} is not a .csv, .json or .parquet file")
    try:
        rows = parse_rows(file.read_bytes(), fmt)
    except OSError as exc:
        raise _fail(f"--file: cannot read {file}: {exc.strerror}") from None
    except FormatProblem as exc:
        raise _fail(f"--file: {exc}") from None
    container = build(db)
    container.db.migrate()
    caller = Principal(SubjectKind.STAFF, CLI_ACTOR, Role.OPS)
    try:
        result = risk_data.ingest(container, borrower, src, rows, fmt, caller)
    except NotFound as exc:
        raise _fail(f"--borrower: {exc}") from None
    except MissingConsent as exc:
        raise _fail(str(exc)) from None
    out.print(
        f"{src.value}: {result.received} rows · kept {result.accepted} · duplicates {result.duplicates}"
        f" · rejected {len(result.rejected)} (batch {result.batch_id})"
    )
    if result.rejected:
        table = Table("row", "field", "reason", title="rejected rows (row numbers from 1, as in the file)")
        for r in result.rejected[:SHOWN_REJECTIONS]:
            for p in r.problems:
                table.add_row(str(r.index + 1), p.field, p.message)
        out.print(table)
        if len(result.rejected) > SHOWN_REJECTIONS:
            out.print(f"... and {len(result.rejected) - SHOWN_REJECTIONS} more rejected rows")
        raise typer.Exit(code=1)
