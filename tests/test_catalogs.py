"""The message catalogs: complete, consistent with the code, and the locale negotiation."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from locales import LOCALES_DIR, SUPPORTED, negotiate

ROOT = LOCALES_DIR.parent
POT = LOCALES_DIR / "messages.pot"
# The same options as the Makefile's `catalogs` target.
EXTRACT_OPTIONS = ["-F", "locales/babel.cfg", "-k", "_", "-k", "_p:1c,2", "-k", "_n:1,2",
                   "-k", "N_", "--no-location", "--sort-output", "--project=vraagbaak"]

Key = tuple[str | None, str]


def load_po(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def key(message: Message) -> Key:
    """(context, msgid); for plurals the singular stands for the entry."""
    msgid = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
    context = message.context
    if isinstance(context, bytes):  # babel's read_mo leaves the context undecoded
        context = context.decode()
    return context, msgid


def _plain(text: object) -> object:
    """read_mo gives plural forms as a list, read_po as a tuple."""
    return tuple(text) if isinstance(text, (list, tuple)) else text


def entries(catalog: Catalog) -> dict[Key, Message]:
    return {key(m): m for m in catalog if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def as_list(value: str | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, tuple) else [value]


@pytest.fixture(scope="module")
def template() -> dict[Key, Message]:
    return entries(load_po(POT))


def test_template_is_not_empty(template: dict[Key, Message]) -> None:
    assert len(template) >= 10


@pytest.mark.parametrize("lang", SUPPORTED)
def test_every_message_is_translated(lang: str, template: dict[Key, Message]) -> None:
    catalog = entries(load_po(LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"))
    missing = [k for k in template if k not in catalog]
    assert not missing, f"{lang}: not in the catalog (run `make catalogs`): {missing}"
    empty = [k for k in template if not all(s.strip() for s in as_list(catalog[k].string))]
    assert not empty, f"{lang}: untranslated: {empty}"
    fuzzy = [k for k in template if catalog[k].fuzzy]
    assert not fuzzy, f"{lang}: fuzzy (check and remove the flag): {fuzzy}"


@pytest.mark.parametrize("lang", SUPPORTED)
def test_translations_keep_the_placeholders(lang: str, template: dict[Key, Message]) -> None:
    catalog = entries(load_po(LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"))
    wrong = []
    for k, message in template.items():
        if k not in catalog:
            continue
        expected = set().union(*(placeholders(i) for i in as_list(message.id)))
        for translated in as_list(catalog[k].string):
            if translated and placeholders(translated) != expected:
                wrong.append((k[1][:60], sorted(expected), sorted(placeholders(translated))))
    assert not wrong, f"{lang}: placeholders differ: {wrong}"


@pytest.mark.parametrize("lang", SUPPORTED)
def test_compiled_catalog_matches_po(lang: str) -> None:
    folder = LOCALES_DIR / lang / "LC_MESSAGES"
    mo_path = folder / "messages.mo"
    assert mo_path.exists(), f"{mo_path} missing; run `make install`"
    with mo_path.open("rb") as fh:
        compiled = {key(m): _plain(m.string) for m in read_mo(fh) if m.id}
    source = {k: _plain(m.string) for k, m in entries(load_po(folder / "messages.po")).items()
              if m.string and not m.fuzzy}
    assert compiled == source, f"{mo_path} is stale; run `make install`"


def test_template_is_up_to_date_with_the_code(tmp_path: Path,
                                              template: dict[Key, Message]) -> None:
    out = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "extract", *EXTRACT_OPTIONS, "-o", str(out), "."],
                   cwd=ROOT, check=True, capture_output=True, timeout=60)
    extracted = set(entries(load_po(out)))
    new = sorted(extracted - set(template), key=str)
    gone = sorted(set(template) - extracted, key=str)
    assert not new and not gone, (
        f"locales/messages.pot is out of date; run `make catalogs` and translate. "
        f"New in the code: {new}; no longer in the code: {gone}")


@pytest.mark.parametrize(("code", "expected"), [
    ("en-GB", "en"),
    ("en", "en"),
    ("nl", "nl"),
    ("NL-be", "nl"),
    ("pt-BR", "nl"),
    (None, "nl"),
    ("", "nl"),
    ("garbage", "nl"),
    ("!!", "nl"),
    ("-", "nl"),
    ("x" * 300, "nl"),
])
def test_negotiate(code: str | None, expected: str) -> None:
    assert negotiate(code) == expected


def test_negotiate_falls_back_to_the_given_default() -> None:
    assert negotiate("pt-BR", default="en") == "en"
    assert negotiate(None, default="en") == "en"
    assert negotiate("nl-BE", default="en") == "nl"
