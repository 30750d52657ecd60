"""Rule engines behind `puhui.risk.policy.RulesEvaluator`: zen-engine over the JDM policy tables."""

from puhui.adapters.rules.zen import POLICY_DIRECTORY, ZenRules

__all__ = ["POLICY_DIRECTORY", "ZenRules"]
