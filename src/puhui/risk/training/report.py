"""The validation report: one self-contained HTML file (inline CSS, figures as inline SVG).

It scores a labelled CSV with the runtime scorer — the code production runs — and shows AUC, Gini
and KS; the ROC and KS curves; calibration (mean predicted PD against the observed bad rate by
decile of PD); the score distributions of goods and bads; the PSI of the scores against the training
sample (< 0.10 stable, 0.10-0.25 watch, > 0.25 shifted); the CV comparison that chose the model; and
the scorecard's bins and points (or LightGBM's feature importance). No CDN, no external file.
"""

from __future__ import annotations

import html
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from puhui.risk.model import BOOSTER_FILE, SCORECARD_FILE, CreditModel, ModelKind, load_model
from puhui.risk.monitoring import PsiResult, Stability, auc_drifted, score_psi
from puhui.risk.training.data import DataError, FeatureSpec, load_scoring_frame, parse_target, rows_of

DECILES = 10
BAND_COLOURS = {Stability.STABLE: "#1a7f37", Stability.WATCH: "#9a6700", Stability.SHIFTED: "#cf222e"}
GOOD_COLOUR, BAD_COLOUR = "#2f6fbb", "#d1495b"


@dataclass(frozen=True)
class Evaluation:
    y: npt.NDArray[np.int_]
    pd: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    reasons: list[tuple[str, ...]]

    @property
    def bads(self) -> int:
        return int(self.y.sum())


@dataclass(frozen=True)
class Metrics:
    auc: float
    gini: float
    ks: float
    ks_population_share: float  # where, riskiest first, the KS is reached


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    metrics: Metrics
    psi: PsiResult | None
    rows: int
    bads: int


def evaluate(model: CreditModel, data_path: Path, target: str, bad: str | None) -> Evaluation:
    specs = [FeatureSpec(f.name, f.type) for f in model.feature_specs]
    frame, typed = load_scoring_frame(data_path, specs)
    if target not in frame.columns:
        raise DataError(f"no column {target!r} in {data_path}; its columns: {', '.join(map(str, frame.columns))}")
    y, _ = parse_target(frame[target], target, bad if bad is not None else str(model.metadata.get("bad_value", "1")))
    predictions = model.predict_many(rows_of(typed))
    return Evaluation(
        y,
        np.asarray([p.pd for p in predictions]),
        np.asarray([float(p.score) for p in predictions]),
        [tuple(r.code for r in p.reasons) for p in predictions],
    )


def metrics(ev: Evaluation) -> Metrics:
    from sklearn.metrics import roc_auc_score, roc_curve

    value = float(roc_auc_score(ev.y, ev.pd))
    fpr, tpr, _ = roc_curve(ev.y, ev.pd)
    gap = tpr - fpr
    at = int(np.argmax(gap))
    population = (tpr[at] * ev.bads + fpr[at] * (len(ev.y) - ev.bads)) / len(ev.y)
    return Metrics(value, 2.0 * value - 1.0, float(gap[at]), float(population))


# ------------------------------------------------------------------------------------------------
# Figures (matplotlib, without pyplot: no GUI backend, no global state)


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "puhui"  # the same report for the same input
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.2, 3.9))
    axes = figure.subplots()
    axes.grid(alpha=0.3)
    return figure, axes


def roc_figure(ev: Evaluation, m: Metrics) -> str:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(ev.y, ev.pd)
    figure, axes = _figure()
    axes.plot(fpr, tpr, color=BAD_COLOUR, label=f"model (AUC {m.auc:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="random")
    axes.set(xlabel="share of goods declined (false positive rate)", ylabel="share of bads caught", title="ROC")
    axes.legend(loc="lower right")
    return _svg(figure)


def ks_figure(ev: Evaluation, m: Metrics) -> str:
    order = np.argsort(-ev.pd, kind="stable")  # riskiest first
    y = ev.y[order]
    population = np.arange(1, len(y) + 1) / len(y)
    bads = np.cumsum(y) / max(ev.bads, 1)
    goods = np.cumsum(1 - y) / max(len(y) - ev.bads, 1)
    figure, axes = _figure()
    axes.plot(population, bads, color=BAD_COLOUR, label="bads (cumulative share)")
    axes.plot(population, goods, color=GOOD_COLOUR, label="goods (cumulative share)")
    at = int(np.argmax(bads - goods))
    axes.vlines(population[at], goods[at], bads[at], color="black", linestyle=":", label=f"KS {m.ks:.3f}")
    axes.set(xlabel="share of applicants, riskiest first", ylabel="cumulative share", title="KS")
    axes.legend(loc="lower right")
    return _svg(figure)


def calibration_table(ev: Evaluation) -> list[tuple[int, int, float, float]]:
    """Per decile of PD (lowest first): rows, bads, mean predicted PD, observed bad rate."""
    groups = np.array_split(np.argsort(ev.pd, kind="stable"), DECILES)
    return [(len(g), int(ev.y[g].sum()), float(ev.pd[g].mean()), float(ev.y[g].mean())) for g in groups if len(g) > 0]


def calibration_figure(table: Sequence[tuple[int, int, float, float]]) -> str:
    predicted = [row[2] for row in table]
    observed = [row[3] for row in table]
    top = max([*predicted, *observed, 0.01]) * 1.1
    figure, axes = _figure()
    axes.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect calibration")
    axes.plot(predicted, observed, marker="o", color=BAD_COLOUR, label="deciles of predicted PD")
    axes.set(xlabel="mean predicted PD", ylabel="observed bad rate", title="Calibration by decile", xlim=(0, top))
    axes.set_ylim(0, top)
    axes.legend(loc="upper left")
    return _svg(figure)


def distribution_figure(ev: Evaluation) -> str:
    bins = np.histogram_bin_edges(ev.score, bins=30)
    figure, axes = _figure()
    axes.hist(ev.score[ev.y == 0], bins=bins, density=True, alpha=0.55, color=GOOD_COLOUR, label="goods")
    axes.hist(ev.score[ev.y == 1], bins=bins, density=True, alpha=0.55, color=BAD_COLOUR, label="bads")
    axes.set(xlabel="score (600 at odds 50:1, PDO 20)", ylabel="density", title="Score distribution")
    axes.legend(loc="upper left")
    return _svg(figure)


# ------------------------------------------------------------------------------------------------
# HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:2rem auto;max-width:72rem;
color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:right}
th{background:#f6f8fa}td.l,th.l{text-align:left}.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));
gap:1rem}.figs svg{width:100%;height:auto}.band{font-weight:bold;padding:.1rem .5rem;border-radius:.3rem;color:#fff}
.muted{color:#656d76;font-size:.9rem}.kpi td{font-size:1.1rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{_e(v)}</td>' for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _psi_section(model: CreditModel, ev: Evaluation) -> tuple[str, PsiResult | None]:
    distribution = model.metadata.get("score_distribution")
    if not distribution:
        return "<p>The artefact holds no training score distribution: no PSI.</p>", None
    result = score_psi(distribution["shares"], distribution["edges"], ev.score.tolist())
    edges = [float(e) for e in distribution["edges"]]
    labels = [f"< {edges[0]:g}"] + [f"{a:g} – {b:g}" for a, b in pairwise(edges)] + [f">= {edges[-1]:g}"]
    rows = [
        (label, f"{100 * e:.1f} %", f"{100 * a:.1f} %")
        for label, e, a in zip(labels, result.expected_shares, result.actual_shares, strict=True)
    ]
    band = f'<span class="band" style="background:{BAND_COLOURS[result.stability]}">{_e(result.stability.value)}</span>'
    text = (
        f"<p>PSI of these scores against the training sample: <b>{result.psi:.4f}</b> {band} "
        '<span class="muted">(&lt; 0.10 stable · 0.10–0.25 watch · &gt; 0.25 shifted)</span></p>'
        + _table(["score bin", "training share", "this data"], rows)
    )
    return text, result


def _cv_section(meta: dict[str, Any]) -> str:
    cv = meta.get("cv", {})
    rows = []
    for kind, result in cv.get("candidates", {}).items():
        folds = " · ".join(f"{a:.3f}" for a in result.get("fold_auc", []))
        chosen = "chosen" if kind == cv.get("chosen") else ""
        rows.append((kind, f"{result['mean_auc']:.4f}", folds, chosen))
    calibration = meta.get("calibration", {})
    return (
        _table(["candidate", "mean CV AUC", "per fold", ""], rows, left=1)
        + f"<p class='muted'>{_e(cv.get('folds'))}-fold stratified CV, seed {_e(cv.get('seed'))}; "
        f"{_e(cv.get('tie_rule', ''))}. "
        f"Calibration: {_e(calibration.get('method'))}, slope {calibration.get('slope', 0):.4f}, "
        f"intercept {calibration.get('intercept', 0):.4f} ({_e(calibration.get('fitted_on', ''))}).</p>"
    )


def _bin_label(b: dict[str, Any]) -> str:
    if "categories" in b:
        return ", ".join(map(str, b["categories"])) or "(none)"
    lower, upper = b.get("lower"), b.get("upper")
    return f"[{'-inf' if lower is None else f'{lower:g}'}, {'inf' if upper is None else f'{upper:g}'})"


def _scorecard_section(directory: Path, model: CreditModel) -> str:
    doc = json.loads((directory / SCORECARD_FILE).read_text(encoding="utf-8"))
    labels = {f.name: f.label_zh for f in model.feature_specs}
    parts = [f"<p>Base points {doc['base_points']:.1f}; score = base points + the points of each factor's bin.</p>"]
    for feature in sorted(doc["features"], key=lambda f: -float(f.get("iv", 0.0))):
        rows = [
            (_bin_label(b), b["count"], f"{100 * b['event_rate']:.1f} %", f"{b['woe']:.3f}", f"{b['points']:.1f}")
            for b in feature["bins"]
        ]
        missing = feature["missing"]
        rows.append(
            (
                "missing",
                missing["count"],
                f"{100 * missing['event_rate']:.1f} %",
                f"{missing['woe']:.3f}",
                f"{missing['points']:.1f}",
            )
        )
        title = feature["name"] + (
            f" · {labels[feature['name']]}" if labels.get(feature["name"], feature["name"]) != feature["name"] else ""
        )
        parts.append(f"<h3>{_e(title)} <span class='muted'>IV {feature.get('iv', 0):.3f}</span></h3>")
        parts.append(_table(["bin", "rows", "bad rate", "WOE", "points"], rows))
    return "".join(parts)


def _importance_section(directory: Path, model: CreditModel) -> str:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
    gain = booster.feature_importance(importance_type="gain")
    splits = booster.feature_importance(importance_type="split")
    total = float(gain.sum()) or 1.0
    order = np.argsort(-gain, kind="stable")
    rows = [(model.features[i], f"{100 * gain[i] / total:.1f} %", int(splits[i])) for i in order]
    return f"<p>{booster.num_trees()} trees.</p>" + _table(["feature", "share of total gain", "splits"], rows)


def _reasons_section(ev: Evaluation) -> str:
    counts = Counter(code for reasons in ev.reasons for code in reasons[:1])
    rows = [(code, n, f"{100 * n / len(ev.y):.1f} %") for code, n in counts.most_common(10)]
    if not rows:
        return "<p>No row has an adverse reason.</p>"
    return _table(["first reason code", "rows", "share"], rows)


def _header(model: CreditModel, data_path: Path) -> str:
    trained = model.metadata.get("training_data", {})
    return (
        f"<h1>Credit model report · {_e(model.version)}</h1>"
        f'<p class="muted">{_e(model.kind)} · scored {_e(data_path.name)} with the runtime scorer on '
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · trained on {_e(trained.get('file_name'))} "
        f"({_e(trained.get('rows'))} rows, bad rate {100 * float(trained.get('bad_rate', 0)):.2f} %, "
        f"sha256 {_e(str(trained.get('sha256', ''))[:12])}…)</p>"
    )


def _discrimination(model: CreditModel, ev: Evaluation, m: Metrics) -> str:
    kpis = _table(
        ["rows", "bads", "bad rate", "mean PD", "AUC", "Gini", "KS"],
        [
            (
                len(ev.y),
                ev.bads,
                f"{100 * ev.bads / len(ev.y):.2f} %",
                f"{100 * ev.pd.mean():.2f} %",
                f"{m.auc:.4f}",
                f"{m.gini:.4f}",
                f"{m.ks:.4f}",
            )
        ],
        left=0,
    )
    trained = model.metadata.get("training_auc", {}).get("cv_mean")
    drift = ""
    if trained is not None:
        verdict = "fell by more than 0.05: drift" if auc_drifted(float(trained), m.auc) else "no AUC drift"
        drift = f"<p class='muted'>Cross-validated AUC at training {float(trained):.4f}: {verdict}.</p>"
    return f'<div class="kpi">{kpis}</div>{drift}<div class="figs">{roc_figure(ev, m)}{ks_figure(ev, m)}</div>'


def _calibration(ev: Evaluation) -> str:
    table = calibration_table(ev)
    rows = [(i + 1, n, b, f"{100 * p:.2f} %", f"{100 * o:.2f} %") for i, (n, b, p, o) in enumerate(table)]
    header = ["decile of PD", "rows", "bads", "mean predicted PD", "observed bad rate"]
    figures = f'<div class="figs">{calibration_figure(table)}{distribution_figure(ev)}</div>'
    return figures + _table(header, rows, left=0)


def render(
    model: CreditModel, directory: Path, data_path: Path, ev: Evaluation
) -> tuple[str, Metrics, PsiResult | None]:
    m = metrics(ev)
    psi_html, psi = _psi_section(model, ev)
    if model.kind == ModelKind.SCORECARD:
        factors = f"<h2>Scorecard</h2>{_scorecard_section(directory, model)}"
    else:
        factors = f"<h2>Feature importance</h2>{_importance_section(directory, model)}"
    body = (
        _header(model, data_path)
        + f"<h2>Discrimination</h2>{_discrimination(model, ev, m)}"
        + f"<h2>Calibration</h2>{_calibration(ev)}"
        + f"<h2>Population stability</h2>{psi_html}"
        + f"<h2>Model choice</h2>{_cv_section(dict(model.metadata))}"
        + f"<h2>Reason codes</h2>{_reasons_section(ev)}"
        + factors
    )
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(model.version)}</title>'
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
    return page, m, psi


def write_report(model_dir: Path, data_path: Path, target: str, bad: str | None, out: Path) -> ReportSummary:
    model = load_model(model_dir)
    directory = model_dir.parent if model_dir.is_file() else model_dir
    ev = evaluate(model, data_path, target, bad)
    page, m, psi = render(model, directory, data_path, ev)
    out.write_text(page, encoding="utf-8")
    return ReportSummary(out, m, psi, len(ev.y), ev.bads)
