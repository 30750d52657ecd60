"""Adapters: the database, the bank channel, documents and rule engines behind plain interfaces."""
