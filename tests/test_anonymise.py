"""Tests for the anonymiser: leak and keep figures over the labelled set, plus unit checks."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import anonymise_lines
from knowledge.anonymise import PLACEHOLDERS, Anonymiser

DEV_SET = Path(__file__).parent / "data" / "anonymise_dev.jsonl"
MAX_NAME_LEAK = 0.0  # issue 10: zero name leaks
MIN_KEPT = 0.95


HOLDOUT_SET = Path(__file__).parent / "data" / "anonymise_holdout.jsonl"
# Written for the anonymiser package (issue 10) before it was tuned: dossier numbers in many
# formats, initials, nicknames, greetings, checksummed numbers; zero leaks of any kind allowed.
FRESH_SET = Path(__file__).parent / "data" / "anonymise_fresh.jsonl"
# Written after tuning on the fresh set, to check that the tuning generalised (measured once
# before any change for it: 2/73 identifiers, 0/83 names, 2/15 institutions leaked).
FRESH2_SET = Path(__file__).parent / "data" / "anonymise_fresh2.jsonl"
# Held-out: identifiers that must never leak; institutions and names are judged by rate.
ZERO_LEAK_TYPES = {"phone", "email", "bsn", "iban", "postcode", "address", "date", "plate",
                   "document", "dossier", "ip", "url", "handle"}
MAX_INSTITUTION_LEAK = 0.03


def _load_dev_set(path: Path = DEV_SET) -> list[dict[str, Any]]:
    """Read the labelled sentences."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _leaks(secret: str, output: str) -> bool:
    """A secret leaks if it survives as a word, or for multi-token secrets any 4+ digit run."""
    # As a word: the name 'lotte' does not leak through 'complotten'.
    if re.search(rf"(?<!\w){re.escape(secret.lower())}(?!\w)", output.lower()):
        return True
    if len(re.findall(r"\w+", secret)) > 1:
        return any(run in output for run in re.findall(r"\d{4,}", secret))
    return False


def test_dev_set_figures(anonymiser: Anonymiser) -> None:
    """Over the labelled set: no leaked identifiers or names, 95% kept."""
    rows = _load_dev_set()
    assert len(rows) >= 120
    leaked_other: list[str] = []
    leaked_names: list[str] = []
    lost: list[str] = []
    names = kept = keep_total = 0
    for row in rows:
        output = anonymiser.anonymise(row["text"])
        for secret in row["secrets"]:
            is_name = secret["type"] == "name"
            names += is_name
            if _leaks(secret["text"], output):
                target = leaked_names if is_name else leaked_other
                target.append(f"{secret['type']} {secret['text']!r} in {output!r}")
        for word in row["keep"]:
            keep_total += 1
            if word in output:
                kept += 1
            else:
                lost.append(f"{word!r} in {output!r}")
    name_leak = len(leaked_names) / max(names, 1)
    kept_fraction = kept / max(keep_total, 1)
    report = (
        f"leaked non-name secrets: {len(leaked_other)}; "
        f"leaked names: {len(leaked_names)}/{names} = {name_leak:.3f}; "
        f"kept: {kept}/{keep_total} = {kept_fraction:.3f}"
    )
    print(f"\n[anonymise dev set, {len(rows)} sentences] {report}")
    details = "\n".join(leaked_other + leaked_names + lost)
    assert not leaked_other, f"{report}\n{details}"
    assert name_leak <= MAX_NAME_LEAK, f"{report}\n{details}"
    assert kept_fraction >= MIN_KEPT, f"{report}\n{details}"


def test_holdout_set_figures(anonymiser: Anonymiser) -> None:
    """A set written apart from the anonymiser, never used to tune it."""
    rows = _load_dev_set(HOLDOUT_SET)
    counts: dict[str, int] = {}
    leaks: dict[str, list[str]] = {}
    kept = keep_total = 0
    for row in rows:
        output = anonymiser.anonymise(row["text"])
        for secret in row["secrets"]:
            kind = secret["type"]
            counts[kind] = counts.get(kind, 0) + 1
            if _leaks(secret["text"], output):
                leaks.setdefault(kind, []).append(f"{secret['text']!r} in {output!r}")
        keep_total += len(row["keep"])
        kept += sum(word.lower() in output.lower() for word in row["keep"])
    name_leak = len(leaks.get("name", [])) / counts["name"]
    institution_leak = len(leaks.get("institution", [])) / counts["institution"]
    identifiers = sum(len(v) for k, v in leaks.items() if k in ZERO_LEAK_TYPES)
    report = (f"[anonymise holdout, {len(rows)} sentences] leaked identifiers: {identifiers}/"
              f"{sum(v for k, v in counts.items() if k in ZERO_LEAK_TYPES)}; names "
              f"{name_leak:.3f}; institutions {institution_leak:.3f}; kept "
              f"{kept}/{keep_total} = {kept / keep_total:.3f}")
    print("\n" + report)
    details = "\n".join(item for items in leaks.values() for item in items)
    assert identifiers == 0, f"{report}\n{details}"
    assert name_leak <= MAX_NAME_LEAK, f"{report}\n{details}"
    assert institution_leak <= MAX_INSTITUTION_LEAK, f"{report}\n{details}"
    assert kept / keep_total >= MIN_KEPT, f"{report}\n{details}"


@pytest.mark.parametrize(("path", "size"), [(FRESH_SET, 100), (FRESH2_SET, 50)])
def test_fresh_set_figures(anonymiser: Anonymiser, path: Path, size: int) -> None:
    """The sets written for the package: no identifier, name or institution survives; 95% kept."""
    rows = _load_dev_set(path)
    assert len(rows) >= size
    leaks: list[str] = []
    lost: list[str] = []
    kept = keep_total = 0
    for row in rows:
        output = anonymiser.anonymise(row["text"])
        leaks += [f"{s['type']} {s['text']!r} in {output!r}" for s in row["secrets"]
                  if _leaks(s["text"], output)]
        for word in row["keep"]:
            keep_total += 1
            if word.lower() in output.lower():
                kept += 1
            else:
                lost.append(f"{word!r} in {output!r}")
    report = (f"[anonymise {path.stem}, {len(rows)} texts] leaked: {len(leaks)}; "
              f"kept {kept}/{keep_total} = {kept / keep_total:.3f}")
    print("\n" + report)
    assert not leaks, f"{report}\n" + "\n".join(leaks)
    assert kept / keep_total >= MIN_KEPT, f"{report}\n" + "\n".join(lost)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dossier RvdK-88412-2025 is gesloten.", "Dossier [DOSSIERNUMMER] is gesloten."),
        ("Mijn leerling Mohammed B. (15) deelt IS-filmpjes.",
         "Mijn leerling [NAAM] (15) deelt IS-filmpjes."),
        ("Hartelijke groet van Zwaantje uit Zeist", "Hartelijke groet van [NAAM] uit Zeist"),
        ("Contactpersoon: mevrouw J. de Boer-Kramer.", "Contactpersoon: mevrouw [NAAM]."),
        ("jongen hier, momo (eigenlijk Mohamed), 16 jaar",
         "jongen hier, [NAAM] (eigenlijk [NAAM]), 16 jaar"),
        ("Een jongen die zich 'Blitz' noemt.", "Een jongen die zich '[NAAM]' noemt."),
        ("The family lives at 27 Prinsengracht.", "The family lives at [ADRES]."),
        ("Hij woont op Damrak 12 in Amsterdam.", "Hij woont op [ADRES] in Amsterdam."),
        ("Kenmerk JB/25/3311 en parketnummer 13/654321-24.",
         "Kenmerk [DOSSIERNUMMER] en parketnummer [DOSSIERNUMMER]."),
        ("Een groep van vijf jongens (15-17 jaar).", "Een groep van vijf jongens (15-17 jaar)."),
        ("Hij citeert de profeet Mohammed vaak.", "Hij citeert de profeet Mohammed vaak."),
        ("Adres: Hoogstraat 4-6, 5611 PL Eindhoven.", "Adres: [ADRES], [POSTCODE] Eindhoven."),
        ("Mann, L., Doosje, B., Konijn, E. (2015)", "[NAAM], [NAAM], [NAAM] (2015)"),
        ("staatssecretaris Van Rijn (VWS)", "staatssecretaris [NAAM] (VWS)"),
        ("A Grade 9 student posted it.", "A Grade 9 student posted it."),
        ("## LIJN 1 Versterken", "## LIJN 1 Versterken"),
        ("Zie Actiecentrum 1000/Actiecentrum Veiligheid.",
         "Zie Actiecentrum 1000/Actiecentrum Veiligheid."),
        ("My neighbour's boy, Levi, is 12.", "My neighbour's boy, [NAAM], is 12."),
    ],
)
def test_issue_cases(anonymiser: Anonymiser, text: str, expected: str) -> None:
    """The leaks named in issue 10, and their neighbours that must stay."""
    assert anonymiser.anonymise(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BSN 123456782 klopt.", "BSN [BSN] klopt."),
        ("BSN 123456789 is verkeerd overgetypt.", "BSN [NUMMER] is verkeerd overgetypt."),
        ("IBAN NL91ABNA0417164300.", "IBAN [IBAN]."),
        ("IBAN NL91ABNA0417164301.", "IBAN [NUMMER]."),
        ("Postcode 1234 AB.", "Postcode [POSTCODE]."),
        ("Postcode 1234 SS.", "Postcode [NUMMER]."),
        ("Bel 06-12345678.", "Bel [TELEFOON]."),
        ("Bel 06-1234567.", "Bel [NUMMER]."),
    ],
)
def test_checksums_choose_the_label(anonymiser: Anonymiser, text: str, expected: str) -> None:
    """A number that passes its check gets its own label; a mistyped one is still removed."""
    assert anonymiser.anonymise(text) == expected


def test_loads_light_without_deduce() -> None:
    """A fresh process builds the anonymiser in well under 150 MB and never imports deduce."""
    code = (
        "import re, sys\n"
        "from knowledge.anonymise import Anonymiser\n"
        "out = Anonymiser().anonymise('Jan Jansen uit Zeist belde 06-12345678')\n"
        "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print(out, 'deduce' in sys.modules, peak)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True, cwd=Path(__file__).parent.parent)
    *words, imported, max_kib = result.stdout.split()
    assert " ".join(words) == "[NAAM] uit Zeist belde [TELEFOON]"
    assert imported == "False"
    assert int(max_kib) < 150 * 1024, f"peak RSS {int(max_kib) // 1024} MB"


@pytest.mark.parametrize(
    "phone",
    [
        "06-12345678",
        "06 12 34 56 78",
        "0612345678",
        "06 1234 5678",
        "06-1234 5678",
        "+31 6 1234 5678",
        "+31(0)6 12345678",
        "+31 (0)6-12345678",
        "+31612345678",
        "0031 6 12345678",
        "0031612345678",
        "070-333 45 58",
        "020 123 4567",
        "(020) 123 45 67",
        "010-4567890",
        "06.12.34.56.78",
        "+32 470 12 34 56",
        "+44 7700 900123",
    ],
)
def test_phone_notations(anonymiser: Anonymiser, phone: str) -> None:
    """Every common Dutch and international notation becomes [TELEFOON] without digit runs."""
    output = anonymiser.anonymise(f"Zijn moeder is bereikbaar op {phone} na vijf uur.")
    assert "[TELEFOON]" in output, output
    assert not re.search(r"\d{2,}", output.replace("vijf", "")), output


@pytest.mark.parametrize("postcode", ["1234 AB", "1234AB", "1234ab", "1234 ab", "3512 jk"])
def test_postcodes_any_case(anonymiser: Anonymiser, postcode: str) -> None:
    """Dutch postcodes are removed in upper and lower case, with or without space."""
    output = anonymiser.anonymise(f"Het gezin woont in {postcode} Utrecht.")
    assert output == "Het gezin woont in [POSTCODE] Utrecht.", output


def test_years_and_counts_are_not_postcodes(anonymiser: Anonymiser) -> None:
    """Four-digit numbers followed by ordinary words stay."""
    text = "In 2023 en 2024 kwamen 1500 km verderop 1200 in actie."
    assert anonymiser.anonymise(text) == text


@pytest.mark.parametrize(
    "link", ["t.me/wittewoede", "https://t.me/joinchat/AbC123", "t.me/+AbCdEf_98"]
)
def test_telegram_links(anonymiser: Anonymiser, link: str) -> None:
    """t.me links are removed as [URL]."""
    output = anonymiser.anonymise(f"Hij deelt {link} in de klassenapp.")
    assert output == "Hij deelt [URL] in de klassenapp.", output


def test_placeholders_are_typed(anonymiser: Anonymiser) -> None:
    """Each kind of identifier gets its own placeholder."""
    cases = {
        "Mail jamal.b@gmail.com graag.": "[EMAIL]",
        "Volg @ghost_lion_88 niet.": "[HANDLE]",
        "Zie instagram.com/jamal.x.official voor de posts.": "[URL]",
        "Het BSN is 123456782.": "[BSN]",
        "IBAN NL91 ABNA 0417 1643 00 is bekend.": "[IBAN]",
        "Hij woont op de Kastanjelaan 14.": "[ADRES]",
        "Geboren op 12 maart 2008.": "[DATUM]",
        "Kenteken 12-ABC-3 gezien.": "[KENTEKEN]",
        "Paspoort NW92BF3D1 ingeleverd.": "[DOCUMENTNUMMER]",
        "Zaaknummer Z/21/123456 loopt.": "[DOSSIERNUMMER]",
        "Vanaf 192.168.14.27 gepost.": "[IP]",
        "Ze zit op het Montessori Lyceum.": "[INSTELLING]",
        "Mijn leerling jamal zei dat.": "[NAAM]",
        "Bel 06-12345678.": "[TELEFOON]",
        "Postcode 3512 AB.": "[POSTCODE]",
    }
    for text, placeholder in cases.items():
        output = anonymiser.anonymise(text)
        assert placeholder in output, (text, output)
        others = [p for p in PLACEHOLDERS if p != placeholder and p in output]
        assert not others, (text, output)


def test_keeps_roles_topics_and_regions(anonymiser: Anonymiser) -> None:
    """Support organisations, roles, topics and provinces survive untouched."""
    texts = [
        "De docent, mentor, wijkagent en jongerenwerker bespreken jihadisme en omvolking.",
        "Veilig Thuis, het Veiligheidshuis, Platform JEP, de GGZ en de NCTV zijn betrokken.",
        "Jeugdbescherming en de Raad voor de Kinderbescherming doen onderzoek in Limburg.",
        "Jongeren in Utrecht, Groningen en Noord-Holland zitten op Discord, TikTok en Telegram.",
        "A 16-year-old told the teacher and the youth worker about IS and Syria.",
        "Will the school inform the parents? Mark my words, this is serious.",
    ]
    for text in texts:
        assert anonymiser.anonymise(text) == text


def test_lowercase_names_and_cues(anonymiser: Anonymiser) -> None:
    """Chat-style lowercase names are found from the name list and from context cues."""
    cases = [
        ("jamal zei dat hij weg wil", "[NAAM] zei dat hij weg wil"),
        ("ik sprak met mijn leerling mark", "ik sprak met mijn leerling [NAAM]"),
        ("my student tyler said so", "my student [NAAM] said so"),
        ("de jongen heet Xandro", "de jongen heet [NAAM]"),
        ("zijn broer ayoub is vertrokken", "zijn broer [NAAM] is vertrokken"),
    ]
    for text, expected in cases:
        assert anonymiser.anonymise(text) == expected


def test_json_lines_with_bad_line(anonymiser: Anonymiser) -> None:
    """Each input line gets one output line; a broken line gets an error and work goes on."""
    stdin = io.StringIO(
        '{"text": "Bel jamal op 06-12345678."}\n'
        "dit is geen json\n"
        '{"tekst": "verkeerd veld"}\n'
        "\n"
        '{"text": "Geen persoonsgegevens hier."}\n'
    )
    stdout = io.StringIO()
    anonymise_lines(stdin, stdout, anonymiser)
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert len(lines) == 4
    assert lines[0] == {"text": "Bel [NAAM] op [TELEFOON]."}
    assert set(lines[1]) == {"error"}
    assert set(lines[2]) == {"error"}
    assert lines[3] == {"text": "Geen persoonsgegevens hier."}


def test_cli_anonymises_json_lines() -> None:
    """`vraagbaak anonymise` answers each JSON line on stdin with one line on stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "anonymise"], capture_output=True, text=True,
        timeout=60, check=True, cwd=Path(__file__).parent.parent,
        input='{"text": "Groet van Zwaantje, 06-12345678"}\n{"text": 3}\n')
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {"text": "Groet van [NAAM], [TELEFOON]"}
    assert set(second) == {"error"}


@pytest.mark.parametrize(
    ("text", "secret", "placeholder"),
    [
        ("Geboren op 12-03-2008.", "12-03-2008", "[DATUM]"),
        ("Geboren op 12 maart 2008.", "12 maart 2008", "[DATUM]"),
        ("Born on March 12th 2008.", "March 12th 2008", "[DATUM]"),
        ("Born on 2008-03-12.", "2008-03-12", "[DATUM]"),
        ("IBAN NL91ABNA0417164300 gebruikt.", "NL91ABNA0417164300", "[IBAN]"),
        ("IBAN nl91 abna 0417 1643 00 gebruikt.", "nl91 abna 0417 1643 00", "[IBAN]"),
        ("Auto AB-123-C gezien.", "AB-123-C", "[KENTEKEN]"),
        ("Auto 12-ABC-3 gezien.", "12-ABC-3", "[KENTEKEN]"),
        ("Auto 4-TX-123 gezien.", "4-TX-123", "[KENTEKEN]"),
        ("Log van fe80::1ff:fe23:4567:890a bekeken.", "fe80::1ff:fe23:4567:890a", "[IP]"),
        ("Het dossiernummer 2023-48812 is bekend.", "2023-48812", "[DOSSIERNUMMER]"),
        ("Onder zaaknummer Z/21/123456 bekend.", "Z/21/123456", "[DOSSIERNUMMER]"),
        ("Zie tiktok.com/@sanne_2008 voor de clips.", "tiktok.com/@sanne_2008", "[URL]"),
        ("Zie facebook.com/lisa.devries.7 voor posts.", "facebook.com/lisa.devries.7", "[URL]"),
        ("He lives at 12 Baker Street now.", "12 Baker Street", "[ADRES]"),
        ("Ze woont op de Kerkstraat 12a in Zwolle.", "Kerkstraat 12a", "[ADRES]"),
        ("Hij zit op het Calvijn College.", "Calvijn College", "[INSTELLING]"),
        (
            "Zijn zusje zit op basisschool De Regenboog.",
            "basisschool De Regenboog",
            "[INSTELLING]",
        ),
        ("Zij studeert aan Hogeschool Inholland.", "Hogeschool Inholland", "[INSTELLING]"),
    ],
)
def test_identifier_notations(
    anonymiser: Anonymiser, text: str, secret: str, placeholder: str
) -> None:
    """Each listed notation is removed and replaced by its own placeholder."""
    output = anonymiser.anonymise(text)
    assert secret.lower() not in output.lower(), output
    assert placeholder in output, output
