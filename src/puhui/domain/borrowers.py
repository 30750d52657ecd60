"""Borrowers: SME size class by the 2011 standard (R-5.2), the seed rule as a fallback (R-5.3),
and the inclusive small-micro flag (R-5.1, rule 15).

Sizes follow 工信部联企业〔2011〕300号: X = employees, Y = revenue (yuan), Z = total assets (yuan).
A firm is medium when it meets both medium bounds, small when it meets both small bounds, and
micro otherwise (micro needs only one measure below the small bound). Sectors beyond the five in
rules.md are taken from the same table [U: background knowledge, check before relying on them].
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from puhui.domain.enums import BorrowerKind

M = Decimal(1_000_000)
INCLUSIVE_CREDIT_MAX = Decimal(10_000_000)  # single-borrower credit <= 10 M


class SizeClass(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    NOT_APPLICABLE = "not_applicable"  # individuals


class Sector(StrEnum):
    AGRICULTURE = "agriculture"
    INDUSTRY = "industry"
    CONSTRUCTION = "construction"
    WHOLESALE = "wholesale"
    RETAIL = "retail"
    TRANSPORT = "transport"
    WAREHOUSING = "warehousing"
    POSTAL = "postal"
    ACCOMMODATION = "accommodation"
    CATERING = "catering"
    ICT = "ict"
    SOFTWARE = "software"
    REAL_ESTATE = "real_estate"
    PROPERTY_MANAGEMENT = "property_management"
    LEASING_BUSINESS_SERVICES = "leasing_business_services"
    OTHER = "other"


class Measure(StrEnum):
    STAFF = "staff"
    REVENUE = "revenue"
    ASSETS = "assets"


Band = dict[Measure, Decimal]  # lower bounds a firm must meet on every listed measure


@dataclass(frozen=True, slots=True)
class SectorBands:
    medium: Band
    small: Band
    large: Band  # a firm at or above every bound here is large (outside the SME standard)


def _b(**bounds: Decimal | int) -> Band:
    return {Measure(k): Decimal(str(v)) for k, v in bounds.items()}


SIZE_TABLE_2011: dict[Sector, SectorBands] = {
    Sector.AGRICULTURE: SectorBands(_b(revenue=5 * M), _b(revenue=Decimal("0.5") * M), _b(revenue=200 * M)),
    Sector.INDUSTRY: SectorBands(
        _b(staff=300, revenue=20 * M), _b(staff=20, revenue=3 * M), _b(staff=1000, revenue=400 * M)
    ),
    Sector.CONSTRUCTION: SectorBands(
        _b(revenue=60 * M, assets=50 * M), _b(revenue=3 * M, assets=3 * M), _b(revenue=800 * M, assets=800 * M)
    ),
    Sector.WHOLESALE: SectorBands(
        _b(staff=20, revenue=50 * M), _b(staff=5, revenue=10 * M), _b(staff=200, revenue=400 * M)
    ),
    Sector.RETAIL: SectorBands(
        _b(staff=50, revenue=5 * M), _b(staff=10, revenue=1 * M), _b(staff=300, revenue=200 * M)
    ),
    Sector.TRANSPORT: SectorBands(
        _b(staff=300, revenue=30 * M), _b(staff=20, revenue=2 * M), _b(staff=1000, revenue=300 * M)
    ),
    Sector.WAREHOUSING: SectorBands(
        _b(staff=100, revenue=10 * M), _b(staff=20, revenue=1 * M), _b(staff=200, revenue=300 * M)
    ),
    Sector.POSTAL: SectorBands(
        _b(staff=300, revenue=20 * M), _b(staff=20, revenue=1 * M), _b(staff=1000, revenue=300 * M)
    ),
    Sector.ACCOMMODATION: SectorBands(
        _b(staff=100, revenue=20 * M), _b(staff=10, revenue=1 * M), _b(staff=300, revenue=100 * M)
    ),
    Sector.CATERING: SectorBands(
        _b(staff=100, revenue=20 * M), _b(staff=10, revenue=1 * M), _b(staff=300, revenue=100 * M)
    ),
    Sector.ICT: SectorBands(
        _b(staff=100, revenue=10 * M), _b(staff=10, revenue=1 * M), _b(staff=2000, revenue=1000 * M)
    ),
    Sector.SOFTWARE: SectorBands(
        _b(staff=100, revenue=10 * M), _b(staff=10, revenue=Decimal("0.5") * M), _b(staff=300, revenue=100 * M)
    ),
    Sector.REAL_ESTATE: SectorBands(
        _b(revenue=10 * M, assets=50 * M), _b(revenue=1 * M, assets=20 * M), _b(revenue=2000 * M, assets=100 * M)
    ),
    Sector.PROPERTY_MANAGEMENT: SectorBands(
        _b(staff=300, revenue=10 * M), _b(staff=100, revenue=5 * M), _b(staff=1000, revenue=50 * M)
    ),
    Sector.LEASING_BUSINESS_SERVICES: SectorBands(
        _b(staff=100, assets=80 * M), _b(staff=10, assets=1 * M), _b(staff=300, assets=1200 * M)
    ),
    Sector.OTHER: SectorBands(_b(staff=100), _b(staff=10), _b(staff=300)),
}


@dataclass(frozen=True, slots=True)
class FirmFacts:
    sector: Sector | None
    staff_count: int | None = None
    annual_revenue: Decimal | None = None
    total_assets: Decimal | None = None

    def value(self, measure: Measure) -> Decimal | None:
        raw = {Measure.STAFF: self.staff_count, Measure.REVENUE: self.annual_revenue, Measure.ASSETS: self.total_assets}
        v = raw[measure]
        return None if v is None else Decimal(v)


class SizeError(ValueError):
    """Not enough facts to classify the firm."""


def _meets(facts: FirmFacts, band: Band) -> bool:
    for measure, bound in band.items():
        value = facts.value(measure)
        if value is None:
            raise SizeError(f"{measure.value} is needed to classify a {facts.sector} firm")
        if value < bound:
            return False
    return True


def classify_size(facts: FirmFacts) -> SizeClass:
    """R-5.2 (2011 standard); falls back to the seed rule when the sector is unknown."""
    if facts.sector is None:
        return seed_rule_size(facts)
    bands = SIZE_TABLE_2011[facts.sector]
    if _meets(facts, bands.large):
        return SizeClass.LARGE
    if _meets(facts, bands.medium):
        return SizeClass.MEDIUM
    if _meets(facts, bands.small):
        return SizeClass.SMALL
    return SizeClass.MICRO


SEED_STAFF_MAX = 20
SEED_REVENUE_MAX = Decimal(20_000_000)


def seed_rule_size(facts: FirmFacts) -> SizeClass:
    """The seed documents' rule: staff < 20 AND sales < RMB 20 M is small/micro (R-5.3 fallback).

    It cannot tell small from micro, so a qualifying firm is reported as SMALL; one that misses
    the rule is reported MEDIUM (the rule says only that it is not a small-micro firm)."""
    if facts.staff_count is None or facts.annual_revenue is None:
        raise SizeError("staff_count and annual_revenue are needed for the seed size rule")
    qualifies = facts.staff_count < SEED_STAFF_MAX and facts.annual_revenue < SEED_REVENUE_MAX
    return SizeClass.SMALL if qualifies else SizeClass.MEDIUM


def is_inclusive(kind: BorrowerKind, size: SizeClass, total_credit: Decimal, business_loan: bool) -> bool:
    """普惠型小微 (rule 15): small, micro, individual business, or an owner's business loan, with
    total credit to the borrower at most 10 M."""
    if total_credit > INCLUSIVE_CREDIT_MAX:
        return False
    if kind is BorrowerKind.INDIVIDUAL_BUSINESS:
        return True
    if kind is BorrowerKind.ENTERPRISE:
        return size in (SizeClass.SMALL, SizeClass.MICRO)
    return business_loan  # an individual (small-business owner) borrowing for the business
