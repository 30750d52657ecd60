"""Domain errors that name the field at fault, so every entry point can say what and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    path: str
    message: str


class DomainValidationError(ValueError):
    """One or more inputs are unacceptable; each problem names its field and the reason."""

    code = "validation_error"

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.problems = problems
        text = message or "; ".join(f"{p.path}: {p.message}" for p in problems)
        super().__init__(text)
        self.message = text
