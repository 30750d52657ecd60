"""The pure lending core: money rules, products, schedules, APR, caps and ledger rules.

Nothing here imports a web framework, an ORM or does I/O: plain functions, enums and frozen
records, tested without a database.
"""
