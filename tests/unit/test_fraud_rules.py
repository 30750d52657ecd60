"""The pure fraud rules: velocity limits, bounded ring search, rings with defaults, payouts to
flagged or shared accounts, repayments from unknown payers."""

from __future__ import annotations

from puhui.risk.fraud import (
    FraudFlag,
    Severity,
    VelocityCounts,
    VelocityLimits,
    device_findings,
    payer_findings,
    payout_findings,
    ring_around,
    ring_findings,
    velocity_findings,
)


def test_velocity_is_flagged_only_above_each_limit() -> None:
    limits = VelocityLimits(per_phone_24h=3, per_device_24h=3, per_network_1h=10)
    assert velocity_findings(VelocityCounts(3, 3, 10), limits) == []
    found = velocity_findings(VelocityCounts(4, None, 11), limits)
    assert [f.details["by"] for f in found] == ["phone", "network"]
    assert all(f.flag is FraudFlag.VELOCITY and f.severity is Severity.WARN for f in found)
    assert "4" in found[0].text_en and "4" in found[0].text_zh


def test_ring_search_follows_links_and_stops_at_its_bounds() -> None:
    chain = {f"b{i}": {f"b{i - 1}", f"b{i + 1}"} for i in range(1, 100)}

    def neighbours(frontier: set[str]) -> set[str]:
        return set().union(*(chain.get(b, set()) for b in frontier))

    assert ring_around({"b50"}, neighbours, max_hops=2) == {"b48", "b49", "b50", "b51", "b52"}
    assert len(ring_around({"b50"}, neighbours, max_hops=100, max_size=10)) <= 12  # stops growing near the cap
    assert ring_around({"lonely"}, neighbours) == {"lonely"}


def test_a_ring_with_defaults_other_than_the_applicant_is_flagged() -> None:
    members = {"me", "a", "b"}
    assert ring_findings(members, {"me"}, "me") == []  # one's own history is the model's business
    found = ring_findings(members, {"a", "zzz"}, "me")
    assert found[0].flag is FraudFlag.RING_WITH_DEFAULTS and found[0].details["defaulted"] == ["a"]


def test_payouts_to_flagged_or_shared_accounts_are_blocked() -> None:
    assert payout_findings(None, 0) == []
    assert [f.severity for f in payout_findings("stolen card", 0)] == [Severity.BLOCK]
    assert len(payout_findings("stolen card", 2)) == 2
    assert "2" in payout_findings(None, 2)[0].text_en


def test_third_party_payers_and_tampered_devices() -> None:
    assert payer_findings("0000", {"0000", "1234"}) == []
    assert payer_findings(None, {"0000"}) == [] and payer_findings("9999", set()) == []
    assert payer_findings("9999", {"0000"})[0].details["payer_last4"] == "9999"
    assert device_findings(False, False) == []
    assert device_findings(True, False)[0].flag is FraudFlag.DEVICE_TAMPERED
