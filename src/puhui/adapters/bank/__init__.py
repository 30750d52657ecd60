"""The bank / payment channel: a signed-HTTP client and a simulator that runs as its own service."""
