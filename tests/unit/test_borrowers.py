"""SME size (2011 standard, R-5.2), the seed fallback (R-5.3) and the inclusive flag (R-5.1)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from puhui.domain.borrowers import FirmFacts, Sector, SizeClass, SizeError, classify_size, is_inclusive
from puhui.domain.enums import BorrowerKind

M = Decimal(1_000_000)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # the three firms says the seed rule wrongly leaves out
        (FirmFacts(Sector.INDUSTRY, 50, 10 * M), SizeClass.SMALL),
        (FirmFacts(Sector.WHOLESALE, 10, 40 * M), SizeClass.SMALL),
        (FirmFacts(Sector.INDUSTRY, 100, 2 * M), SizeClass.MICRO),
        # band edges of the table
        (FirmFacts(Sector.INDUSTRY, 20, 3 * M), SizeClass.SMALL),
        (FirmFacts(Sector.INDUSTRY, 19, 19 * M), SizeClass.MICRO),
        (FirmFacts(Sector.INDUSTRY, 300, 20 * M), SizeClass.MEDIUM),
        (FirmFacts(Sector.RETAIL, 9, 4 * M), SizeClass.MICRO),
        (FirmFacts(Sector.RETAIL, 10, 1 * M), SizeClass.SMALL),
        (FirmFacts(Sector.AGRICULTURE, annual_revenue=Decimal("499999")), SizeClass.MICRO),
        (FirmFacts(Sector.AGRICULTURE, annual_revenue=Decimal("500000")), SizeClass.SMALL),
        (FirmFacts(Sector.CONSTRUCTION, annual_revenue=10 * M, total_assets=2 * M), SizeClass.MICRO),
        (FirmFacts(Sector.CONSTRUCTION, annual_revenue=10 * M, total_assets=10 * M), SizeClass.SMALL),
        (FirmFacts(Sector.INDUSTRY, 5000, 1000 * M), SizeClass.LARGE),
    ],
)
def test_size_by_the_2011_table(facts: FirmFacts, expected: SizeClass) -> None:
    assert classify_size(facts) is expected


def test_seed_rule_is_the_fallback_when_the_sector_is_unknown() -> None:
    assert classify_size(FirmFacts(None, 19, 19 * M)) is SizeClass.SMALL
    assert classify_size(FirmFacts(None, 50, 10 * M)) is SizeClass.MEDIUM
    with pytest.raises(SizeError):
        classify_size(FirmFacts(None, None, 10 * M))


def test_missing_facts_are_named() -> None:
    with pytest.raises(SizeError, match="assets"):
        classify_size(FirmFacts(Sector.CONSTRUCTION, annual_revenue=10 * M))


def test_inclusive_flag() -> None:
    assert is_inclusive(BorrowerKind.ENTERPRISE, SizeClass.MICRO, 10 * M, True)
    assert not is_inclusive(BorrowerKind.ENTERPRISE, SizeClass.MICRO, 10 * M + 1, True)
    assert not is_inclusive(BorrowerKind.ENTERPRISE, SizeClass.MEDIUM, 1 * M, True)
    assert is_inclusive(BorrowerKind.INDIVIDUAL_BUSINESS, SizeClass.NOT_APPLICABLE, 1 * M, True)
    assert is_inclusive(BorrowerKind.INDIVIDUAL, SizeClass.NOT_APPLICABLE, 1 * M, business_loan=True)
    assert not is_inclusive(BorrowerKind.INDIVIDUAL, SizeClass.NOT_APPLICABLE, 1 * M, business_loan=False)
