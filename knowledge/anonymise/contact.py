"""Contact details: links, e-mail addresses, IP addresses, social handles, phone numbers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import phonenumbers

from knowledge.anonymise.spans import EMAIL, HANDLE, IP, NUMMER, TELEFOON, URL, Span
from knowledge.anonymise.words import fold, load, words

_URL_RE = re.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>\"'\[\]{}]+"
    r"|\b(?:[a-z0-9-]{1,63}\.){1,6}"
    r"(?:com|nl|be|org|net|me|gg|tv|io|co|uk|de|eu|info|app|ly|link|ru)/[^\s<>\"'\[\]{}]*"
)
_EMAIL_RE = re.compile(
    r"(?i)(?<![\w.+-])[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,5}"
    r"\.[a-z]{2,}"
)
_EMAIL_OBFUSCATED_RE = re.compile(
    r"(?i)\b[a-z0-9._%+-]{1,64}+\s?(?:(?:\[at\]|\(at\)|\{at\}|\[@\])\s?[a-z0-9-]+|"
    r"\s(?:at|apenstaartje)\s(?:gmail|hotmail|outlook|live|yahoo|icloud|ziggo|kpnmail|"
    r"planet|home|xs4all|proton|protonmail|msn|telfort|casema|quicknet))"
    r"\s?(?:\[dot\]|\(dot\)|\{dot\}|\[punt\]|\.|\sdot\s|\spunt\s)\s?"
    r"(?:com|nl|net|org|be|eu|de|info|uk|me)\b"
)
_IPV4_RE = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?:/\d{1,2})?(?::\d{1,5})?(?!\.?\d)"
)
_IPV6_RE = re.compile(
    r"(?i)(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%\w+)?(?:/\d{1,3})?(?![\w:])"
)
_HANDLE_RE = re.compile(r"(?<![\w@./:])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
_REDDIT_USER_RE = re.compile(r"(?<![\w/])u/[A-Za-z0-9_-]{3,}")
_HANDLE_CONTEXT_RE = re.compile(
    r"(?i)\b(?P<kw>insta(?:gram)?|ig|snap(?:chat)?|sc|tiktok|telegram|discord|twitter|twitch|"
    r"reddit|roblox|minecraft|fortnite|steam|psn|xbox|signal|kik|gamertag|gebruikersnaam|"
    r"username|user\s?name|accountnaam|account|handle|nickname|bijnaam|profielnaam|schuilnaam|"
    r"alias)"
    r"(?:[-\s]?(?:naam|name|account|handle|id|tag|profiel|profile))?\s*"
    r"(?::|=|\bis\b|\bheet\b|\bals\b|\bas\b|\bcalled\b|\bgenaamd\b|\bnamed\b|\bby\b)?\s*"
    r"[\"'“‘]?(?P<v>[A-Za-z0-9_][A-Za-z0-9_.#-]{2,})"
)
# A word with an underscore is a user name in ordinary prose ('Aryan_Warrior_88').
_UNDERSCORE_NAME_RE = re.compile(r"(?<![\w@/.#])[A-Za-z0-9]+(?:_+[A-Za-z0-9]+)+_*(?:#\d+)?(?!\w)")
# A quoted word that mixes letters with digits or inner capitals is a user name ('Wodan88').
_QUOTED_HANDLE_RE = re.compile(
    r"[\"'“‘](?P<v>(?=[A-Za-z0-9_.]*(?:\d|[a-z][A-Z]))[A-Za-z][A-Za-z0-9_.]{2,})[\"'”’]"
)
_HANDLE_KEYWORDS = words("""
    username gebruikersnaam account accountnaam handle nickname bijnaam profielnaam alias
    gamertag naam name profiel profile
""")
_EXPLICIT_HANDLE_KW = words("""
    gamertag gebruikersnaam username user accountnaam handle nickname bijnaam profielnaam
    schuilnaam alias
""")

# Separators between digits; '(0)' is the trunk prefix in '+31 (0)6' and '0031-(0)6'.
_PHONE_SEP = r"(?:\s?[-.]?\s?\(0\)\s?[-.]?\s?|\s?[-./–]\s?|\s|\)\s?|\s?\(|)"
_PHONE_NL_RE = re.compile(rf"(?<![\w+/.])\(?0(?:{_PHONE_SEP}\d){{9,10}}(?![\w/]|[.,]\d)")
_PHONE_INTL_RE = re.compile(
    rf"(?<![\w+])(?:\+|\b00)\s?\d{{1,3}}(?:\s?\(0\))?(?:{_PHONE_SEP}\d){{6,13}}(?![\w/]|[.,]\d)"
)
_PHONE_US_RE = re.compile(r"(?<![\w+])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w/]|[.,]\d)")
_PHONE_CONTEXT_RE = re.compile(
    r"(?i)\b(?:tel(?:efoon)?(?:nummer|nr)?|telnr|t|mobiel(?:e nummer)?|gsm|nummer|nr|"
    r"phone(?: number)?|mobile|cell|whatsapp|bel(?:len)?|call|sms|app)\.?\s*:?\s*"
    r"(?:is\s+|op\s+|on\s+)?(?P<n>\+?[\d(][\d\s().\-/–]{6,}\d)"
)
# A date followed by another number ('01-03-2008 12'), not a phone number written with dots.
_DATE_PREFIX_RE = re.compile(r"\(?\d{1,2}([-/.])\d{1,2}\1(?:19|20)?\d{2}(?![-/.]\d)")


def find(text: str) -> Iterator[Span]:
    """All contact details in the text."""
    yield from url_spans(text)
    for regex in (_EMAIL_RE, _EMAIL_OBFUSCATED_RE):
        yield from (Span(m.start(), m.end(), EMAIL) for m in regex.finditer(text))
    yield from _ip_spans(text)
    yield from _handle_spans(text)
    yield from _phone_spans(text)


def url_spans(text: str) -> Iterator[Span]:
    """Links, except links to public information sites and bare platform addresses."""
    for m in _URL_RE.finditer(text):
        url = m.group().rstrip(".,;:!?)'\"”’")
        host_path = re.sub(r"(?i)^(?:https?://)?(?:www\.|m\.)?", "", url)
        host, _, path = host_path.partition("/")
        host = host.lower()
        if host in load("safe_domains") or host.split(".", 1)[-1] in load("safe_domains"):
            continue
        if host in load("social_hosts") and not path.strip("/"):
            continue  # a bare platform name is a topic word, not a profile
        yield Span(m.start(), m.start() + len(url), URL)


def _ip_spans(text: str) -> Iterator[Span]:
    """IPv4 and IPv6 addresses, validated so times like 12:30:45 stay."""
    yield from (Span(m.start(), m.end(), IP) for m in _IPV4_RE.finditer(text))
    for m in _IPV6_RE.finditer(text):
        address = m.group().split("/")[0].split("%")[0]
        if "::" not in address and address.count(":") < 7:
            continue
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            continue
        yield Span(m.start(), m.end(), IP)


def _handle_spans(text: str) -> Iterator[Span]:
    """@handles, u/names and user names introduced by a platform word."""
    for regex in (_HANDLE_RE, _REDDIT_USER_RE):
        for m in regex.finditer(text):
            if len(m.group()) >= 3:
                yield Span(m.start(), m.end(), HANDLE)
    for m in _UNDERSCORE_NAME_RE.finditer(text):
        yield Span(m.start(), m.end(), HANDLE)
    for m in _QUOTED_HANDLE_RE.finditer(text):
        yield Span(m.start("v"), m.end("v"), HANDLE)
    pos = 0
    while m := _HANDLE_CONTEXT_RE.search(text, pos):
        # Resume inside the match: in 'Discord username x_y' the value follows 'username'.
        pos = m.start("v")
        value = m.group("v").rstrip(".-")
        folded = fold(value)
        if folded in load("stop") or folded in load("keep") or folded in _HANDLE_KEYWORDS:
            continue
        keyword = fold(m.group("kw")).split()[0]
        looks_like_handle = re.search(r"[_\d#]|\w\.\w|[a-z][A-Z]", value) is not None
        # 'snap: sannevdb': after a platform and a colon any single word is the account.
        after_colon = text[m.end("kw") : m.start("v")].strip(" \"'“‘").endswith(":")
        if looks_like_handle or keyword in _EXPLICIT_HANDLE_KW or after_colon:
            yield Span(m.start("v"), m.start("v") + len(value), HANDLE)
            pos = m.end("v")


def _phone_label(number: str) -> str:
    """TELEFOON when the digits fit a numbering plan; a mistyped number is removed as NUMMER."""
    try:
        parsed = phonenumbers.parse(number.replace("(0)", ""), "NL")
    except phonenumbers.NumberParseException:
        return NUMMER
    if phonenumbers.is_valid_number(parsed):
        return TELEFOON
    # Dutch numbering is checked strictly; abroad a number of a possible length will do.
    foreign = parsed.country_code != 31 and phonenumbers.is_possible_number(parsed)
    return TELEFOON if foreign else NUMMER


def _phone_spans(text: str) -> Iterator[Span]:
    """Phone numbers: libphonenumber's matcher plus the notations it does not accept."""
    for match in phonenumbers.PhoneNumberMatcher(text, "NL"):
        if not _DATE_PREFIX_RE.match(match.raw_string):
            yield Span(match.start, match.end, TELEFOON)
    for m in _PHONE_NL_RE.finditer(text):
        if not _DATE_PREFIX_RE.match(m.group()):
            yield Span(m.start(), m.end(), _phone_label(m.group()))
    for m in _PHONE_INTL_RE.finditer(text):
        digits = m.group().replace("(0)", "")
        if 9 <= sum(c.isdigit() for c in digits) <= 15:
            yield Span(m.start(), m.end(), _phone_label(m.group()))
    for m in _PHONE_US_RE.finditer(text):
        yield Span(m.start(), m.end(), _phone_label("+1 " + m.group()))
    for m in _PHONE_CONTEXT_RE.finditer(text):
        value = m.group("n")
        if 8 <= sum(c.isdigit() for c in value) <= 15 and not _DATE_PREFIX_RE.match(value):
            yield Span(m.start("n"), m.end("n"), _phone_label(value))
