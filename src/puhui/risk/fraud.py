"""Real-time fraud checks, pure: the service layer gathers the counts and neighbours from the
database and these functions decide what they mean.

- Velocity: too many applications from one phone, one device or one network in a short window.
- Rings: borrowers linked by shared devices, phones or addresses form a component; a new
  application joining a component in which someone has defaulted goes to manual review.
- Anomalous transfers: a payout to an account that is flagged or that belongs to another
  borrower is intercepted; a repayment from an account the borrower never used is an alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class FraudFlag(StrEnum):
    """What the policy tables see (risk/policy knock-outs read these codes)."""

    VELOCITY = "velocity"
    RING_WITH_DEFAULTS = "ring_with_defaults"
    DEVICE_TAMPERED = "device_tampered"


class AlertKind(StrEnum):
    VELOCITY = "velocity"
    RING_WITH_DEFAULTS = "ring_with_defaults"
    DEVICE_TAMPERED = "device_tampered"
    PAYOUT_INTERCEPTED = "payout_intercepted"
    THIRD_PARTY_PAYER = "third_party_payer"
    MODEL_DRIFT = "model_drift"


class Severity(StrEnum):
    INFO = "info"
    WARN = "warn"  # a person should look
    BLOCK = "block"  # the action was stopped


@dataclass(frozen=True, slots=True)
class Finding:
    flag: FraudFlag | None  # what the decision sees; None for findings outside a decision
    alert: AlertKind
    severity: Severity
    text_zh: str
    text_en: str
    details: dict[str, object]


@dataclass(frozen=True, slots=True)
class VelocityLimits:
    """At most this many applications (the new one included) per window."""

    per_phone_24h: int = 3
    per_device_24h: int = 3
    per_network_1h: int = 10


@dataclass(frozen=True, slots=True)
class VelocityCounts:
    phone_24h: int
    device_24h: int | None  # None: no device was reported
    network_1h: int | None  # None: no network prefix was reported


def velocity_findings(counts: VelocityCounts, limits: VelocityLimits = VelocityLimits()) -> list[Finding]:
    checks = (
        ("phone", counts.phone_24h, limits.per_phone_24h, "24 小时", "24 hours", "同一手机号", "one phone"),
        ("device", counts.device_24h, limits.per_device_24h, "24 小时", "24 hours", "同一设备", "one device"),
        ("network", counts.network_1h, limits.per_network_1h, "1 小时", "1 hour", "同一网络", "one network"),
    )
    found = []
    for what, seen, limit, window_zh, window_en, who_zh, who_en in checks:
        if seen is not None and seen > limit:
            found.append(
                Finding(
                    FraudFlag.VELOCITY,
                    AlertKind.VELOCITY,
                    Severity.WARN,
                    f"{window_zh}内{who_zh}提交了 {seen} 笔申请（上限 {limit}）",
                    f"{seen} applications from {who_en} within {window_en} (limit {limit})",
                    {"by": what, "count": seen, "limit": limit},
                )
            )
    return found


def ring_around(
    start: Iterable[str], neighbours: Callable[[set[str]], set[str]], max_hops: int = 3, max_size: int = 500
) -> set[str]:
    """The parties reachable from `start` over shared identifiers, breadth-first, bounded so
    that one huge component (a shared public Wi-Fi, a chain store's phone) cannot stall a decision."""
    seen = set(start)
    frontier = set(seen)
    for _ in range(max_hops):
        if not frontier or len(seen) >= max_size:
            break
        frontier = neighbours(frontier) - seen
        seen |= frontier
    return seen


def ring_findings(members: set[str], defaulted: set[str], applicant: str) -> list[Finding]:
    bad = sorted(defaulted & (members - {applicant}))
    if not bad:
        return []
    return [
        Finding(
            FraudFlag.RING_WITH_DEFAULTS,
            AlertKind.RING_WITH_DEFAULTS,
            Severity.WARN,
            f"与 {len(bad)} 名已违约借款人共用设备、手机号或地址",
            f"shares a device, phone or address with {len(bad)} borrower(s) in default",
            {"ring_size": len(members), "defaulted": bad[:20]},
        )
    ]


def device_findings(emulator: bool, rooted: bool) -> list[Finding]:
    if not (emulator or rooted):
        return []
    what_zh = "模拟器" if emulator else "已越狱/root 的设备"
    what_en = "an emulator" if emulator else "a rooted or jailbroken device"
    return [
        Finding(
            FraudFlag.DEVICE_TAMPERED,
            AlertKind.DEVICE_TAMPERED,
            Severity.WARN,
            f"申请来自{what_zh}",
            f"the application came from {what_en}",
            {"emulator": emulator, "rooted": rooted},
        )
    ]


def payout_findings(flagged_reason: str | None, other_borrowers: int) -> list[Finding]:
    """A payout is stopped when its account is flagged or is another borrower's account."""
    found = []
    if flagged_reason is not None:
        found.append(
            Finding(
                None,
                AlertKind.PAYOUT_INTERCEPTED,
                Severity.BLOCK,
                f"收款账户已被风控标记：{flagged_reason}",
                f"the receiving account is flagged: {flagged_reason}",
                {"flagged": flagged_reason},
            )
        )
    if other_borrowers:
        found.append(
            Finding(
                None,
                AlertKind.PAYOUT_INTERCEPTED,
                Severity.BLOCK,
                f"收款账户也是另外 {other_borrowers} 名借款人的放款账户",
                f"the receiving account also received payouts for {other_borrowers} other borrower(s)",
                {"other_borrowers": other_borrowers},
            )
        )
    return found


def payer_findings(payer_last4: str | None, known_last4: set[str]) -> list[Finding]:
    """A repayment from an account the borrower was never paid out to: posted, but looked at."""
    if not payer_last4 or not known_last4 or payer_last4 in known_last4:
        return []
    return [
        Finding(
            None,
            AlertKind.THIRD_PARTY_PAYER,
            Severity.WARN,
            f"还款来自尾号 {payer_last4} 的账户，不是借款人的放款账户",
            f"the repayment came from an account ending {payer_last4}, not one the borrower was paid to",
            {"payer_last4": payer_last4},
        )
    ]
