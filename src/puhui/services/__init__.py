"""Use cases: each opens one transaction, calls the domain, saves, and returns a result."""
