"""`puhui model train | score | report` (DESIGN.md "CLI")."""

from __future__ import annotations

import typer

model_app = typer.Typer(help="Credit models: train, score, report.", no_args_is_help=True)
