"""The conditions for an officer's upgrade of a non-performing loan (domain/accrual)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from puhui.domain.accrual import NplUpgradeFacts, RiskClass, npl_upgrade_problems

TODAY = date(2026, 11, 20)
READY = NplUpgradeFacts(
    current=RiskClass.DOUBTFUL,
    dpd=0,
    current_since=date(2026, 5, 20),
    installments_paid_since=6,
    restructured_on=None,
    other_npl_loans=0,
    on=TODAY,
)


@pytest.mark.parametrize("to_class", [RiskClass.NORMAL, RiskClass.SPECIAL_MENTION])
def test_a_loan_meeting_every_condition_may_go_to_normal_or_special_mention(to_class: RiskClass) -> None:
    assert npl_upgrade_problems(READY, to_class) == []


@pytest.mark.parametrize("to_class", [RiskClass.SUBSTANDARD, RiskClass.LOSS])
def test_the_target_is_a_performing_class(to_class: RiskClass) -> None:
    assert npl_upgrade_problems(READY, to_class) == [
        "a non-performing loan is upgraded to 关注 (special_mention) or 正常 (normal)"
    ]


@pytest.mark.parametrize("current", [RiskClass.NORMAL, RiskClass.SPECIAL_MENTION])
def test_only_a_non_performing_loan_is_upgraded_by_an_officer(current: RiskClass) -> None:
    (problem,) = npl_upgrade_problems(replace(READY, current=current), RiskClass.NORMAL)
    assert "not non-performing" in problem


def test_six_months_current_to_the_day() -> None:
    assert npl_upgrade_problems(replace(READY, current_since=date(2026, 5, 20)), RiskClass.NORMAL) == []
    (problem,) = npl_upgrade_problems(replace(READY, current_since=date(2026, 5, 21)), RiskClass.NORMAL)
    assert problem == "current since 2026-05-21: normal payment for at least 6 months is needed"


def test_two_periods_when_they_are_longer_than_six_months() -> None:
    # a semi-annual loan current for eight months has paid one installment since: not yet
    facts = replace(READY, current_since=date(2026, 3, 20), installments_paid_since=1)
    (problem,) = npl_upgrade_problems(facts, RiskClass.NORMAL)
    assert problem.startswith("1 installment(s) paid on schedule")


def test_every_unmet_condition_is_named_at_once() -> None:
    facts = replace(
        READY, current_since=date(2026, 9, 1), installments_paid_since=0, restructured_on=date(2026, 4, 1),
        other_npl_loans=2,
    )  # fmt: skip
    problems = npl_upgrade_problems(facts, RiskClass.NORMAL)
    assert len(problems) == 4
    assert problems[2] == "restructured on 2026-04-01: a restructured loan is watched for 12 months before an upgrade"
    assert problems[3] == "the borrower still has 2 other non-performing loan(s)"
    assert npl_upgrade_problems(replace(READY, restructured_on=date(2025, 11, 20)), RiskClass.NORMAL) == []


def test_an_overdue_loan_is_told_to_pay_first() -> None:
    (problem,) = npl_upgrade_problems(replace(READY, dpd=12, current_since=None), RiskClass.NORMAL)
    assert problem == "12 days past due: the overdue amounts must be paid in full first"
