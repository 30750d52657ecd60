"""How a payment is split across what is owed (apart from what falls due: Fineract's good split).

The product's allocation order decides; the default is penalty -> fees -> interest -> principal.
Whatever is left after everything owed is the borrower's credit (an overpayment), never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from puhui.domain.enums import DEFAULT_ALLOCATION_ORDER, AllocationTarget
from puhui.money import ZERO


class AllocationError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Dues:
    penalty: Decimal = ZERO
    fees: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    def of(self, target: AllocationTarget) -> Decimal:
        return {
            AllocationTarget.PENALTY: self.penalty,
            AllocationTarget.FEES: self.fees,
            AllocationTarget.INTEREST: self.interest,
            AllocationTarget.PRINCIPAL: self.principal,
        }[target]

    @property
    def total(self) -> Decimal:
        return self.penalty + self.fees + self.interest + self.principal


@dataclass(frozen=True, slots=True)
class Split:
    penalty: Decimal
    fees: Decimal
    interest: Decimal
    principal: Decimal
    excess: Decimal  # beyond everything owed: kept as the borrower's credit balance

    @property
    def total(self) -> Decimal:
        return self.penalty + self.fees + self.interest + self.principal + self.excess


def allocate(payment: Decimal, dues: Dues, order: Sequence[AllocationTarget] = DEFAULT_ALLOCATION_ORDER) -> Split:
    """Split `payment` over `dues` in `order`; the parts always add up to the payment."""
    if payment <= 0:
        raise AllocationError("payment must be positive")
    if sorted(order) != sorted(AllocationTarget):
        raise AllocationError("order must list penalty, fees, interest and principal once each")
    if any(dues.of(t) < 0 for t in AllocationTarget):
        raise AllocationError("dues cannot be negative")
    remaining = payment
    taken: dict[AllocationTarget, Decimal] = {}
    for target in order:
        part = min(remaining, dues.of(target))
        taken[target] = part
        remaining -= part
    return Split(
        penalty=taken[AllocationTarget.PENALTY],
        fees=taken[AllocationTarget.FEES],
        interest=taken[AllocationTarget.INTEREST],
        principal=taken[AllocationTarget.PRINCIPAL],
        excess=remaining,
    )
