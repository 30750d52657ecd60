"""Chinese and English for the pages, from Babel catalogues (`web/locale/<lang>/LC_MESSAGES/*.po`).

The message ids are the English texts; the Chinese catalogue translates them and the English one may
leave a message empty (the id is then shown). Catalogues are read once at start-up from the `.po`
files (Babel's reader), so there is no compile step and no generated file in the repository.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAINS = ("base", "portal", "console")


class Language(StrEnum):
    ZH = "zh"
    EN = "en"

    @property
    def html_lang(self) -> str:
        return "zh-CN" if self is Language.ZH else "en"

    @property
    def label(self) -> str:
        return "中文" if self is Language.ZH else "English"


DEFAULT = Language.ZH


def pick(query: str | None, cookie: str | None, accept_language: str | None) -> Language:
    """The page's language: ?lang= first, then the remembered choice, then the browser's; Chinese by default."""
    for choice in (query, cookie):
        if choice is not None and choice in Language._value2member_map_:
            return Language(choice)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return Language.ZH
        if tag.startswith("en"):
            return Language.EN
    return DEFAULT


@cache
def _catalogues(language: Language) -> tuple[Catalog, ...]:
    found = []
    for domain in DOMAINS:
        path = LOCALE_DIR / language.value / "LC_MESSAGES" / f"{domain}.po"
        if path.exists():
            with path.open("rb") as fh:
                found.append(read_po(fh, locale=language.value, domain=domain))
    return tuple(found)


@cache
def _table(language: Language) -> dict[str, str]:
    table: dict[str, str] = {}
    for catalogue in _catalogues(language):
        for message in catalogue:
            if message.id and isinstance(message.id, str) and isinstance(message.string, str) and message.string:
                table[message.id] = message.string
    return table


def gettext_for(language: Language) -> Callable[[str], str]:
    table = _table(language)

    def gettext(message: str) -> str:
        return table.get(message, message)

    return gettext


def missing(language: Language, messages: Iterable[str]) -> list[str]:
    """Messages the catalogue of `language` does not translate (the tests require none for Chinese)."""
    table = _table(language)
    return [m for m in messages if m not in table]
