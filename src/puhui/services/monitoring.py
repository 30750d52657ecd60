"""Monitoring the live credit model: the population stability of the scores it gave in production
against its training sample, and its AUC on the loans whose outcome is now known, against the AUC
it was trained with. A shift or a drop raises a model-drift alert for the risk team.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from puhui.adapters.db.tables import contracts, loan_servicing, loans, risk_decisions
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role
from puhui.risk.fraud import AlertKind, Finding, Severity
from puhui.risk.monitoring import Stability, auc, auc_drifted, score_psi
from puhui.services import fraud
from puhui.services.borrowers import Forbidden
from puhui.services.decisions import risk_engine

MONITOR_ROLES = (Role.RISK, Role.ADMIN)
SEASONED_DAYS = 180  # a loan's outcome is read once it has run this long
DEFAULT_DPD = 90


@dataclass(frozen=True, slots=True)
class Window:
    since: date
    until: date


def _scores(conn: Connection, version: str, window: Window) -> list[float]:
    rows = conn.execute(
        select(risk_decisions.c.result_json).where(
            and_(
                risk_decisions.c.model_version == version,
                risk_decisions.c.decided_on >= window.since,
                risk_decisions.c.decided_on <= window.until,
            )
        )
    )
    return [float(s) for s in (json.loads(r.result_json).get("score") for r in rows) if s is not None]


def _outcomes(conn: Connection, version: str, today: date) -> tuple[list[int], list[float]]:
    """(defaulted?, PD at decision) for every loan decided by this model that has seasoned."""
    joined = (
        risk_decisions.join(contracts, contracts.c.application_id == risk_decisions.c.application_id)
        .join(loans, loans.c.contract_id == contracts.c.id)
        .join(loan_servicing, loan_servicing.c.loan_id == loans.c.id)
    )
    rows = conn.execute(
        select(risk_decisions.c.result_json, loan_servicing.c.status, loan_servicing.c.max_dpd)
        .select_from(joined)
        .where(
            and_(
                risk_decisions.c.model_version == version,
                loan_servicing.c.opened_on <= today - timedelta(days=SEASONED_DAYS),
            )
        )
    )
    labels, risks = [], []
    for r in rows:
        pd = json.loads(r.result_json).get("pd")
        if pd is None:
            continue
        labels.append(int(r.status == "written_off" or int(r.max_dpd) > DEFAULT_DPD))
        risks.append(float(pd))
    return labels, risks


def _drift_findings(
    version: str, psi_value: float, stability: Stability, live: float | None, trained: float
) -> list[Finding]:
    found = []
    if stability is Stability.SHIFTED:
        found.append(
            Finding(
                None,
                AlertKind.MODEL_DRIFT,
                Severity.WARN,
                f"模型 {version} 的评分分布已偏移（PSI {psi_value:.3f}）",
                f"the scores of model {version} have shifted from its training sample (PSI {psi_value:.3f})",
                {"psi": round(psi_value, 4)},
            )
        )
    if auc_drifted(trained, live):
        found.append(
            Finding(
                None,
                AlertKind.MODEL_DRIFT,
                Severity.WARN,
                f"模型 {version} 的区分能力下降：AUC {live:.3f}，训练时 {trained:.3f}",
                f"model {version} ranks worse than when trained: AUC {live:.3f} against {trained:.3f}",
                {"auc": live, "trained_auc": trained},
            )
        )
    return found


def monitor(container: Container, caller: Principal, days: int = 90) -> dict[str, Any]:
    """PSI of the last `days` days of decisions and the AUC on seasoned loans, for the live model."""
    if not caller.has_any(MONITOR_ROLES):
        raise Forbidden("only risk or admin staff monitor models")
    model = risk_engine(container).model
    today = container.clock.business_date()
    window = Window(today - timedelta(days=days), today)
    training = model.metadata["score_distribution"]
    trained_auc = float(model.metadata["training_auc"]["cv_mean"])

    def work(conn: Connection) -> dict[str, Any]:
        scores = _scores(conn, model.version, window)
        psi = score_psi(training["shares"], training["edges"], scores)
        labels, risks = _outcomes(conn, model.version, today)
        live_auc = auc(labels, risks)
        findings = _drift_findings(model.version, psi.psi, psi.stability, live_auc, trained_auc) if scores else []
        raised = []
        for f in findings:  # one alert per model, measure and day
            measure = "psi" if "psi" in f.details else "auc"
            subject = f"model:{model.version}:{measure}:{today.isoformat()}"
            raised += fraud.raise_alerts(conn, [f], None, subject, container.clock.now())
        return {
            "model_version": model.version,
            "window": {"since": window.since.isoformat(), "until": window.until.isoformat()},
            "decisions": len(scores),
            "psi": {
                "value": round(psi.psi, 4) if scores else None,
                "stability": psi.stability.value if scores else None,
                "edges": list(psi.edges),
                "training_shares": list(psi.expected_shares),
                "live_shares": list(psi.actual_shares),
            },
            "auc": {
                "live": round(live_auc, 4) if live_auc is not None else None,
                "trained_cv": round(trained_auc, 4),
                "seasoned_loans": len(labels),
                "defaults": sum(labels),
                "drifted": auc_drifted(trained_auc, live_auc),
            },
            "alerts_raised": len(raised),
        }

    return dict(container.db.transaction(work))
