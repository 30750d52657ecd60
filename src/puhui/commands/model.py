"""`puhui model train | score | report` (DESIGN.md "CLI").

train   cross-validates a WOE scorecard against LightGBM, keeps the better, calibrates, saves an artefact
score   one PD, score and reason codes per input row, in input order
report  a self-contained HTML validation report of a model on labelled data

The heavy libraries (pandas, optbinning, LightGBM, scikit-learn, matplotlib) are imported inside the
commands, so `puhui --help` stays fast. Bad input is a one-line message and exit code 2.
"""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from puhui.risk.model import Prediction
    from puhui.risk.training import Artefact, TrainingResult

model_app = typer.Typer(help="Credit models: train, score, report.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)


class KindChoice(StrEnum):
    AUTO = "auto"  # both candidates, the better by CV AUC
    SCORECARD = "scorecard"
    LIGHTGBM = "lightgbm"


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _columns(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


DataOption = Annotated[Path, typer.Option("--data", help="CSV file, one row per applicant, a header line")]
ModelOption = Annotated[Path, typer.Option("--model", help="artefact directory written by `puhui model train`")]


@model_app.command()
def train(
    data: DataOption,
    target: Annotated[str, typer.Option(help="the outcome column (1 = bad, or see --bad)")],
    out_dir: Annotated[Path, typer.Option("--out", help="artefact directory to write (created if needed)")],
    bad: Annotated[str | None, typer.Option(help="the target value that means bad, e.g. 'bad'")] = None,
    labels: Annotated[
        Path | None, typer.Option(help='labels.json for reason codes: {"feature": {"zh": "...", "en": "..."}}')
    ] = None,
    exclude: Annotated[str, typer.Option(help="comma-separated columns to leave out (ids, dates, leaks)")] = "",
    folds: Annotated[int, typer.Option(help="cross-validation folds", min=2, max=20)] = 5,
    seed: Annotated[int, typer.Option(help="seed of the folds and of LightGBM")] = 7,
    kind: Annotated[KindChoice, typer.Option(help="auto: the better by CV AUC; or only this kind")] = KindChoice.AUTO,
) -> None:
    """Train a credit model: WOE scorecard vs LightGBM by stratified k-fold CV AUC, calibrated to a PD."""
    from puhui.risk.model import ModelKind
    from puhui.risk.training import DataError, TrainOptions, load_labels, load_training_data

    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"--out {out_dir} is a file, not a directory")
    try:
        table = load_training_data(data, target, bad=bad, exclude=_columns(exclude), folds=folds)
        options = TrainOptions(
            folds=folds,
            seed=seed,
            kinds=tuple(ModelKind) if kind is KindChoice.AUTO else (ModelKind(kind.value),),
            labels=load_labels(labels),
        )
    except DataError as exc:
        raise _fail(str(exc)) from None
    fp = table.fingerprint
    out.print(
        f"{fp.file_name}: {fp.rows} rows, {fp.bads} bads ({100 * fp.bad_rate:.1f} %), {len(table.features)} features"
        + (f"; dropped {', '.join(f'{d.name} ({d.reason})' for d in table.dropped)}" if table.dropped else ""),
        highlight=False,
        soft_wrap=True,
    )
    result = _train_with_progress(table, options)
    artefact = _write(result, out_dir)
    _print_training(result, artefact)


def _train_with_progress(table: Any, options: Any) -> TrainingResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from puhui.risk.training import train_model

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=False) as bar:
        task = bar.add_task("cross-validation", total=options.folds + 1)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        return train_model(table, options, progress)


def _write(result: TrainingResult, out_dir: Path) -> Artefact:
    from puhui.risk.training import write_artefact

    try:
        return write_artefact(result, out_dir)
    except OSError as exc:
        raise _fail(f"cannot write the artefact to {out_dir}: {exc.strerror or exc}") from None


def _print_training(result: TrainingResult, artefact: Artefact) -> None:
    table = Table(title=f"{result.options.folds}-fold stratified CV (seed {result.options.seed})")
    for column in ("candidate", "mean AUC", "per fold", "settings", ""):
        table.add_column(column)
    for kind, r in result.candidates.items():
        settings = (
            f"C={r.params['C']}" if "C" in r.params else f"{r.params['setting']}, {r.params['num_boost_round']} rounds"
        )
        table.add_row(
            kind.value,
            f"{r.mean_auc:.4f}",
            " ".join(f"{a:.3f}" for a in r.fold_auc),
            settings,
            "[bold green]chosen[/]" if kind is result.chosen else "",
        )
    out.print(table)
    c = result.calibration
    out.print(f"calibration: Platt on the out-of-fold log-odds, slope {c.slope:.4f}, intercept {c.intercept:.4f}")
    out.print(f"model [bold]{artefact.version}[/] written to {artefact.directory}", highlight=False, soft_wrap=True)


@model_app.command()
def score(
    model: ModelOption,
    data: DataOption,
    out_file: Annotated[Path, typer.Option("--out", help="CSV to write: pd, score, reasons per input row")],
) -> None:
    """Score a CSV: one row per input row, in the same order (columns the model does not use are ignored)."""
    from puhui.risk.model import ModelArtefactError, ModelInputError, load_model
    from puhui.risk.training.data import DataError, FeatureSpec, load_scoring_frame, rows_of

    try:
        scorer = load_model(model)
        _, typed = load_scoring_frame(data, [FeatureSpec(f.name, f.type) for f in scorer.feature_specs])
        predictions = scorer.predict_many(rows_of(typed))
    except (ModelArtefactError, ModelInputError, DataError) as exc:
        raise _fail(str(exc)) from None
    try:
        _write_scores(out_file, predictions)
    except OSError as exc:
        raise _fail(f"cannot write {out_file}: {exc.strerror or exc}") from None
    out.print(f"{len(predictions)} rows scored with {scorer.version} -> {out_file}", highlight=False, soft_wrap=True)


def _write_scores(path: Path, predictions: list[Prediction]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["pd", "score", "reasons", "reasons_zh", "reasons_en"])
        for p in predictions:
            writer.writerow(
                [
                    repr(p.pd),  # the shortest text that reads back as the same float
                    p.score,
                    ";".join(r.code for r in p.reasons),
                    "；".join(r.text_zh for r in p.reasons),
                    "; ".join(r.text_en for r in p.reasons),
                ]
            )


@model_app.command()
def report(
    model: ModelOption,
    data: DataOption,
    target: Annotated[str, typer.Option(help="the outcome column")],
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")],
    bad: Annotated[str | None, typer.Option(help="the target value that means bad (default: the model's)")] = None,
) -> None:
    """Write a self-contained HTML report: AUC, Gini, KS, ROC, calibration, score distribution, PSI, bins."""
    from puhui.risk.model import ModelArtefactError, ModelInputError
    from puhui.risk.training.data import DataError
    from puhui.risk.training.report import write_report

    try:
        summary = write_report(model, data, target, bad, out_file)
    except (ModelArtefactError, ModelInputError, DataError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {out_file}: {exc.strerror or exc}") from None
    m = summary.metrics
    psi = f", PSI {summary.psi.psi:.3f} ({summary.psi.stability.value})" if summary.psi else ""
    measured = f"AUC {m.auc:.4f}, Gini {m.gini:.4f}, KS {m.ks:.4f}{psi}"
    out.print(f"{summary.rows} rows, {summary.bads} bads: {measured} -> {out_file}", highlight=False, soft_wrap=True)


@model_app.command("monitor")
def monitor(
    days: Annotated[int, typer.Option(help="decisions of the last N days", min=1, max=730)] = 90,
    db: Annotated[str | None, typer.Option("--db", help="database URL (default: PUHUI_DATABASE_URL)")] = None,
) -> None:
    """The live model (PUHUI_MODEL_DIR): PSI of its recent scores against training, AUC on seasoned loans."""
    from puhui.bootstrap import build
    from puhui.domain.access import Principal, Role, SubjectKind
    from puhui.services.monitoring import monitor as run_monitor

    container = build(db)
    container.db.migrate()
    result = run_monitor(container, Principal(SubjectKind.STAFF, "cli-risk", Role.RISK), days)
    psi, auc = result["psi"], result["auc"]
    out.print(f"model {result['model_version']}: {result['decisions']} decisions since {result['window']['since']}")
    out.print(
        f"PSI {psi['value']} ({psi['stability']}) · AUC live {auc['live']} on {auc['seasoned_loans']} seasoned loans"
    )
    out.print(f"(trained {auc['trained_cv']}) · drift alerts raised: {result['alerts_raised']}")
