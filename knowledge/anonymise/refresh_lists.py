"""Regenerate the name, place and street lists in data/ from deduce's source lists.

Run by hand when those lists should be refreshed (`pip install deduce`, then
`python -m knowledge.anonymise.refresh_lists`); the desk itself never imports deduce.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from knowledge.anonymise.words import DATA, fold, load

# Streets that end in one of these are found by the street pattern alone; the list holds the rest.
_PATTERN_SUFFIXES = (
    "straat", "laan", "weg", "plein", "gracht", "kade", "singel", "dijk", "dreef", "steeg",
    "plantsoen", "boulevard", "allee", "pad",
)
_HEADER = "# Derived from deduce's lookup lists (LGPL-3.0), folded: see refresh_lists.py.\n"


def _read(path: Path) -> set[str]:
    """One of deduce's item lists, folded."""
    with path.open(encoding="utf-8") as handle:
        return {fold(line.strip()) for line in handle if line.strip()}


def _write(name: str, words: set[str]) -> None:
    """Write a sorted list with its provenance header."""
    (DATA / f"{name}.txt").write_text(_HEADER + "\n".join(sorted(words)) + "\n", encoding="utf-8")


def main() -> int:
    """Read deduce's lists from its installed package folder and write ours."""
    spec = importlib.util.find_spec("deduce")
    if spec is None or not spec.submodule_search_locations:
        print("deduce is not installed: pip install deduce", file=sys.stderr)
        return 1
    src = Path(next(iter(spec.submodule_search_locations))) / "data" / "lookup" / "src"
    names = src / "names"
    _write("first_names", _read(names / "lst_first_name" / "items.txt")
           - _read(names / "lst_first_name" / "exceptions.txt"))
    surnames = _read(names / "lst_surname" / "items.txt")
    surnames |= _read(names / "lst_interfix_surname" / "items.txt")
    surnames -= _read(names / "lst_surname" / "exceptions.txt")
    # Surnames that are everyday words ('Groep', 'Klas') would eat 'de juf van groep 7'.
    common = _read(src / "whitelist" / "lst_common_word" / "items.txt")
    _write("surnames", surnames - load("stop") - common - load("common_nouns"))
    places = src / "locations" / "lst_placename"
    _write("places", _read(places / "lst_residence" / "items.txt")
           | _read(places / "lst_municipality" / "items.txt"))
    streets = _read(src / "locations" / "lst_street" / "items.txt")
    _write("streets", {s for s in streets if not s.endswith(_PATTERN_SUFFIXES) and len(s) > 3})
    return 0


if __name__ == "__main__":
    sys.exit(main())
