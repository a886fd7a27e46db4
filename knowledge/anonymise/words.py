"""Word lists of the anonymiser, read from the data files beside this module."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


def fold(word: str) -> str:
    """Lowercase and strip accents so 'Özlem' and 'ozlem' look up the same."""
    # The Turkish dotless i does not decompose, so map it by hand ('Çınar' -> 'cinar').
    decomposed = unicodedata.normalize("NFKD", word.replace("’", "'").lower().replace("ı", "i"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def lines(name: str) -> list[str]:
    """The entries of data/<name>.txt in file order; '#' lines are comments."""
    with (DATA / f"{name}.txt").open(encoding="utf-8") as handle:
        return [s for line in handle if (s := line.strip()) and not s.startswith("#")]


@cache
def load(name: str) -> frozenset[str]:
    """The folded entries of data/<name>.txt as a set (read once per process)."""
    return frozenset(fold(entry) for entry in lines(name))


@cache
def keep_phrase_re() -> re.Pattern[str]:
    """Multi-word terms to keep ('Veilig Thuis', 'Andrew Tate') as one case-blind pattern."""
    phrases = "|".join(re.escape(p) for p in lines("keep_phrases"))
    return re.compile(rf"(?i)\b(?:{phrases})\b")


def words(blob: str) -> frozenset[str]:
    """A small in-code word set from a whitespace-separated blob."""
    return frozenset(blob.split())
