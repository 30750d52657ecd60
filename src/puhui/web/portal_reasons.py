"""The services' reasons for refusing a field, in the portal's words: the shared table of
`puhui.web.reasons` (its messages are in the layout's catalogue, `base.po`, which the console
reads too). Kept so that the portal's modules name the reasons they show."""

from __future__ import annotations

from puhui.web.reasons import REASONS, SUBJECTS, Gettext, known, reason

__all__ = ["REASONS", "SUBJECTS", "Gettext", "known", "reason"]
