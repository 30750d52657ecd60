"""Typer sub-commands kept beside `cli.py`, one module per command group (risk control: `puhui model
...`, `puhui simulate`). Each imports its heavy libraries inside the command, so `puhui --help` stays fast."""
