"""Message catalogs (gettext, compiled by babel) and locale negotiation."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent
SUPPORTED = ("nl", "en")
DOMAIN = "messages"


class Translator:
    """gettext for one locale: `_` for sentences, `_p` with a context, `_n` for plurals."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._t = _load(locale)

    def _(self, message: str) -> str:
        """Translate a sentence."""
        return self._t.gettext(message)

    def _p(self, context: str, message: str) -> str:
        """Translate a short label with a context such as 'button'."""
        return self._t.pgettext(context, message)

    def _n(self, singular: str, plural: str, n: int) -> str:
        """Translate with a plural form."""
        return self._t.ngettext(singular, plural, n)


@cache
def _load(locale: str) -> NullTranslations:
    translations = Translations.load(str(LOCALES_DIR), [locale], domain=DOMAIN)
    if locale != "en" and not isinstance(translations, Translations):
        raise RuntimeError(
            f"compiled catalog for {locale!r} missing under {LOCALES_DIR}; run `make install`"
        )
    return translations


@cache
def translator(locale: str) -> Translator:
    """The shared translator for a supported locale."""
    return Translator(locale if locale in SUPPORTED else SUPPORTED[0])


def negotiate(language_code: str | None, default: str = "nl") -> str:
    """Map Telegram's language_code ('en-GB', 'nl') onto a supported locale."""
    if language_code:
        try:
            language = Locale.parse(language_code, sep="-").language
        except (UnknownLocaleError, ValueError, TypeError):
            language = None
        if language in SUPPORTED:
            return language
    return default


def from_accept_language(header: str, default: str = "nl") -> str:
    """The supported locale a browser's Accept-Language prefers most ('en-GB,en;q=0.9')."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        code, _sep, params = part.strip().partition(";")
        try:
            weight = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            weight = 0.0
        if code and weight > 0:
            ranked.append((-weight, position, code))
    for _weight, _position, code in sorted(ranked):
        found = negotiate(code, "")
        if found:
            return found
    return default


def N_(message: str) -> str:
    """Mark a module-level constant for extraction; translate it later with `_`."""
    return message
