"""API request/response schemas (kept apart from the tables and the domain records)."""
