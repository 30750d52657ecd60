"""The console's product form: a product as the values of its fields, the submitted fields as the
edits `services.products.update` takes (rates typed in percent, as everywhere in the console),
and each refusal as a message beside the field it is about."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from puhui.domain.apr import HUNDRED
from puhui.domain.errors import DomainValidationError
from puhui.domain.products import LoanProduct
from puhui.money import format_amount
from puhui.web import reasons
from puhui.web.console_support import FormProblem
from puhui.web.console_views import N_

AMOUNTS = ("amount_min", "amount_max", "fees_upfront_amount", "fees_per_period_amount")
PERCENTS = ("rate_annual_min", "rate_annual_max", "fees_upfront_rate", "fees_per_period_rate")
FEES = ("upfront_amount", "upfront_rate", "per_period_amount", "per_period_rate")
TEXTS = ("name", "name_en", "description_zh", "description")  # in both languages, as written
LONG_TEXTS = ("description_zh", "description")  # written in a text area
MUST_BE_PERCENT = N_("must be a percentage, e.g. 12.00")
MUST_BE_MONTHS = N_("write whole months separated by commas, e.g. 6, 12, 24")
MUST_BE_DAYS = N_("must be a whole number of days")
REQUIRED = N_("is required")

# the form's fields in order: (key = the domain's field path with "." as "_", label message id)
FIELDS = (
    ("name", N_("Name (Chinese)")),
    ("name_en", N_("Name (English)")),
    ("description_zh", N_("Description (Chinese)")),
    ("description", N_("Description (English)")),
    ("amount_min", N_("Smallest amount (yuan)")),
    ("amount_max", N_("Largest amount (yuan)")),
    ("term_options_months", N_("Terms offered (months)")),
    ("rate_annual_min", N_("Lowest annual rate (%)")),
    ("rate_annual_max", N_("Highest annual rate (%)")),
    ("fees_upfront_amount", N_("Upfront fee, fixed (yuan)")),
    ("fees_upfront_rate", N_("Upfront fee, share of the principal (%)")),
    ("fees_per_period_amount", N_("Fee per period, fixed (yuan)")),
    ("fees_per_period_rate", N_("Fee per period, share of the principal (%)")),
    ("penalty_multiplier", N_("Penalty multiplier (0.3–0.5 × the contract rate)")),
    ("grace_days", N_("Grace days before penalty interest")),
)
LABELS = dict(FIELDS)


def _percent(rate: Decimal) -> str:
    value = (rate * HUNDRED).normalize()
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else f"{value:f}"


def values(p: LoanProduct, active: bool) -> dict[str, str]:
    return {
        "name": p.name,
        "name_en": p.name_en,
        "description_zh": p.description_zh,
        "description": p.description,
        "amount_min": format_amount(p.amount_min),
        "amount_max": format_amount(p.amount_max),
        "term_options_months": ", ".join(str(t) for t in p.term_options_months),
        "rate_annual_min": _percent(p.rate_annual_min),
        "rate_annual_max": _percent(p.rate_annual_max),
        "fees_upfront_amount": format_amount(p.fees.upfront_amount),
        "fees_upfront_rate": _percent(p.fees.upfront_rate),
        "fees_per_period_amount": format_amount(p.fees.per_period_amount),
        "fees_per_period_rate": _percent(p.fees.per_period_rate),
        "penalty_multiplier": str(p.penalty_multiplier),
        "grace_days": str(p.grace_days),
        "active": "on" if active else "",
    }


def edits(form: Mapping[str, str]) -> dict[str, Any]:
    """The edits for the service, or FormProblem naming every field that could not be read."""
    problems: list[tuple[str, str]] = []
    out: dict[str, Any] = {"name": form.get("name", ""), "name_en": form.get("name_en", "")}
    # a form without the descriptions (a page opened before they could be edited) leaves them be
    out.update({key: form[key] for key in LONG_TEXTS if key in form})
    read: dict[str, str] = {}
    for key in (*AMOUNTS, "penalty_multiplier"):
        text = form.get(key, "")
        if not text:
            problems.append((key, REQUIRED))
        read[key] = text
    for key in PERCENTS:
        try:
            read[key] = f"{Decimal(form.get(key, '')) / HUNDRED:f}"
        except InvalidOperation:
            problems.append((key, MUST_BE_PERCENT))
    try:
        out["term_options_months"] = [int(t) for t in re.split(r"[\s,，、]+", form.get("term_options_months", "")) if t]
    except ValueError:
        problems.append(("term_options_months", MUST_BE_MONTHS))
    try:
        out["grace_days"] = int(form.get("grace_days", ""))
    except ValueError:
        problems.append(("grace_days", MUST_BE_DAYS))
    if problems:
        raise FormProblem(problems)
    out.update({k: read[k] for k in ("amount_min", "amount_max", "rate_annual_min", "rate_annual_max")})
    out["penalty_multiplier"] = read["penalty_multiplier"]
    out["fees"] = {name: read[f"fees_{name}"] for name in FEES}
    out["active"] = form.get("active") == "on"
    return out


def errors(exc: FormProblem | DomainValidationError, _: Callable[[str], str]) -> dict[str, list[str]]:
    """Messages by form field; those about no single field (a fee table, say) under "" ."""
    found: dict[str, list[str]] = {}
    if isinstance(exc, FormProblem):
        pairs = [(key, _(message)) for key, message in exc.problems]
    else:
        pairs = [(p.path.replace(".", "_"), reasons.reason(p.message, _)) for p in exc.problems]
    for key, message in pairs:
        found.setdefault(key if key in LABELS else "", []).append(message)
    return found
