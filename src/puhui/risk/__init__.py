"""Risk control: features, models, policy tables, the instant decision and fraud checks.

Until the model and policy tables land (the risk-control issue), `decision.decide` applies the
product's own rules only — see `decide_by_product_rules`.
"""
