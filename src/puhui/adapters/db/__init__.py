"""Relational storage: SQLAlchemy Core tables, repositories and Alembic migrations.

Runs on SQLite (embedded, WAL, writes under BEGIN IMMEDIATE) and on PostgreSQL (psycopg 3).
Money is stored as BIGINT minor units (fen).
"""
