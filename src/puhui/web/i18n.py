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


class Domain(StrEnum):
    """A catalogue: the shared layout's (`base`) and one per application. A page reads `base` and
    its own, so the portal and the console may word the same English differently."""

    BASE = "base"
    PORTAL = "portal"
    CONSOLE = "console"

    @classmethod
    def of_template(cls, template: str) -> Domain:
        head = template.split("/", 1)[0]
        return cls(head) if head in cls._value2member_map_ else cls.BASE


@cache
def _catalogue(language: Language, domain: Domain) -> Catalog | None:
    path = LOCALE_DIR / language.value / "LC_MESSAGES" / f"{domain.value}.po"
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=language.value, domain=domain.value)


@cache
def _table(language: Language, domain: Domain) -> dict[str, str]:
    """The layout's messages, then the domain's (which win where both translate a text)."""
    table: dict[str, str] = {}
    for part in dict.fromkeys((Domain.BASE, domain)):
        catalogue = _catalogue(language, part)
        for message in catalogue or ():
            if message.id and isinstance(message.id, str) and isinstance(message.string, str) and message.string:
                table[message.id] = message.string
    return table


def gettext_for(language: Language, domain: Domain = Domain.BASE) -> Callable[[str], str]:
    table = _table(language, domain)

    def gettext(message: str) -> str:
        return table.get(message, message)

    return gettext


def missing(language: Language, messages: Iterable[str], domain: Domain = Domain.BASE) -> list[str]:
    """Messages the catalogues of `language` do not translate (the tests require none for Chinese)."""
    table = _table(language, domain)
    return [m for m in messages if m not in table]
