"""`puhui simulate`: seeded micro and small enterprises, individual businesses and individuals, their alternative
data, their defaults in the next 12 months, and the training tables for `puhui model train`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from puhui.risk.data.simulator import OutputFormat, Simulation, SimulationConfig, TrainingTables

FORMATS = ("parquet", "csv")  # = puhui.risk.data.simulator.OutputFormat, kept here so `--help` imports no NumPy

out = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--as-of: {value!r} is not a date like 2026-11-30") from None


def _out_dir(value: Path) -> Path:
    if value.exists() and not value.is_dir():
        raise _fail(f"--out: {value} exists and is not a directory")
    return value


def simulate(
    borrowers: Annotated[int, typer.Option("--borrowers", help="how many borrowers to simulate")],
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the files (created if missing)")],
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives byte-identical files")] = 7,
    months: Annotated[int, typer.Option(help="months of history up to the observation date")] = 24,
    as_of: Annotated[str, typer.Option("--as-of", help="observation date YYYY-MM-DD")] = "2026-11-30",
    fmt: Annotated[str, typer.Option("--format", help="alternative-data files: parquet or csv")] = "parquet",
) -> None:
    """Simulate borrowers, their alternative data and whether they default within 12 months, and write
    training.csv (application + alternative-data features) and training_application_only.csv."""
    if fmt not in FORMATS:
        raise _fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    observed = _as_of(as_of)
    target = _out_dir(out_dir)

    from puhui.risk.data.simulator import OutputFormat, SimulationConfig

    try:
        config = SimulationConfig(borrowers=borrowers, seed=seed, months=months, as_of=observed)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _run(config, target, OutputFormat(fmt))


def _run(config: SimulationConfig, target: Path, fmt: OutputFormat) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from puhui.risk.data.simulator import OUTPUT_FILES, Step, training_tables, write_simulation
    from puhui.risk.data.simulator import simulate as run_simulation

    steps = list(Step)
    total = len(steps) + 1 + OUTPUT_FILES
    columns = (TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out) as bar:
        task = bar.add_task(steps[0].value, total=total)

        def step_done(step: Step) -> None:
            index = steps.index(step)
            following = steps[index + 1].value if index + 1 < len(steps) else "features (build_features)"
            bar.update(task, advance=1, description=following)

        sim = run_simulation(config, step_done)
        tables = training_tables(sim)
        bar.update(task, advance=1, description="writing files")
        try:
            paths = write_simulation(sim, tables, target, fmt, lambda f: bar.update(task, advance=1, description=f))
        except OSError as exc:
            raise _fail(f"--out: cannot write to {target}: {exc.strerror or exc}") from None
        bar.update(task, completed=total, description="done")
    _summary(sim, tables, paths, target)


def _summary(sim: Simulation, tables: TrainingTables, paths: list[Path], target: Path) -> None:
    from rich.table import Table

    from puhui.risk.data.simulator import TARGET, TRAINING_FILE, default_rate, row_counts

    table = Table(title=f"{sim.config.borrowers:,} borrowers · seed {sim.config.seed} · as of {sim.config.as_of}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    rows = row_counts(sim, tables)
    for path in paths:
        count = rows.get(path.name)
        table.add_row(str(path), "" if count is None else f"{count:,}")
    out.print(table)
    rate = default_rate(sim)
    out.print(
        f"default rate {rate:.1%} · {tables.full.width - 2} model columns in training.csv, "
        f"{tables.application_only.width - 2} in training_application_only.csv"
    )
    out.print(f"next: puhui model train --data {target / TRAINING_FILE} --target {TARGET} --out model/")
