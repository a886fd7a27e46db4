"""Loads and validates the knowledge files: topics, snippets, referrals, the sharing flow."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Any

import yaml

from knowledge.topics import LANGS, Topic

DATA_DIR = Path(__file__).parent / "data"
_ID = re.compile(r"^[a-z0-9_-]+$")
URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?(?:/[^\s<>\"]*)?$")
DATE_RE = re.compile(r"^20\d\d-[01]\d-[0-3]\d$")
# Where a fact may come from: a seed document, the desk's own policy, or a public page (with
# the date it was read). A legal provision or any other outside fact needs its page.
SEEDS = frozenset({"000", "001", "002", "003", "004"})
# 112 and 113 (suicide prevention) are the short numbers a referral may carry.
_PHONE = re.compile(r"^(?:11[23]|0\d{2,3}-?\d{3} ?\d{2} ?\d{2}|0\d{2,3}-\d{6,7}|0800-?\d{4,7})$")
MAX_ANSWER = 900
MAX_TITLE = 80


class KnowledgeError(Exception):
    """A knowledge file is invalid; the message names the file and the problem."""


class WorkRole(StrEnum):
    """Who someone is at work, when they say so ("ik ben wijkagent"): a snippet written for
    that role is preferred for them, and advice meant for others is not given to them."""

    POLICE = "police"
    SCHOOL = "school"
    ATTENDANCE_OFFICER = "attendance_officer"
    YOUTH_WORK = "youth_work"
    YOUTH_CARE = "youth_care"
    MENTAL_HEALTH = "mental_health"
    MUNICIPALITY = "municipality"
    SPORTS_CLUB = "sports_club"
    FAITH_COMMUNITY = "faith_community"


class Audience(StrEnum):
    """Who a snippet is written for."""

    PROFESSIONAL = "professional"
    VOLUNTEER = "volunteer"
    BOTH = "both"

    def suits(self, role: str | None) -> bool:
        """Whether this snippet fits a user of that role (unknown roles get everything)."""
        return self is Audience.BOTH or role is None or role == self.value or role == "expert"


@dataclass(frozen=True, slots=True)
class Text:
    """A title and answer in one language."""

    title: str
    answer: str


@dataclass(frozen=True, slots=True)
class Snippet:
    """A piece of guidance with a concrete next step."""

    id: str
    topics: tuple[Topic, ...]
    audience: Audience
    texts: dict[str, Text]
    links: tuple[str, ...]
    sources: tuple[str, ...]
    replaces: tuple[str, ...] = ()
    roles: tuple[WorkRole, ...] = ()  # written for these roles (empty: for anyone)
    # It reassures ("using Telegram is not a red flag"): never shown on a message that raises
    # an alarm, where it would follow the 112 block (knowledge.preference.put_first).
    reassures: bool = False

    @property
    def topic(self) -> Topic:
        """The primary topic."""
        return self.topics[0]

    def text(self, lang: str) -> Text:
        """The text in a language."""
        return self.texts[lang]


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic's labels, description and the words people use for it."""

    id: Topic
    label: dict[str, str]
    description: dict[str, str]
    terms: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Referral:
    """An organisation in the 'wie doet wat' directory."""

    id: str
    name: dict[str, str]
    offers: dict[str, str]
    audience: dict[str, str]
    url: str | None
    phone: str | None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowStep:
    """One step of the information-sharing flow."""

    id: str
    title: dict[str, str]
    text: dict[str, str]
    questions: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SharingFlow:
    """The guided information-sharing flow."""

    intro: dict[str, str]
    disclaimer: dict[str, str]
    steps: tuple[FlowStep, ...]


def button_key(snippet_id: str) -> str:
    """A short, stable stand-in for a card id in Telegram's callback data, which holds at most
    64 bytes with its prefix and a ticket id (card ids run to 60 characters): '#' and ten hex
    digits of the id's BLAKE2b hash. `KnowledgeBase.resolve` reads it back."""
    return "#" + hashlib.blake2b(snippet_id.encode(), digest_size=5).hexdigest()


@dataclass
class KnowledgeBase:
    """Everything the desk knows, validated."""

    topics: dict[Topic, TopicInfo]
    snippets: dict[str, Snippet]
    referrals: dict[str, Referral]
    flow: SharingFlow
    examples: dict[Topic, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    urgency_examples: dict[bool, tuple[str, ...]] = field(default_factory=dict)
    # Per snippet id: questions for which that snippet is a good first answer, per language.
    snippet_examples: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    # Of those, the practice cases (snippet_examples/cases/): long questions as practitioners
    # write them, each graded good for its card. The ranker weighs them CASE_WEIGHT
    # (knowledge.training), less than the questions written for a card.
    case_examples: frozenset[str] = frozenset()
    # Questions outside what the desk knows (training for "no fitting card"), both languages.
    out_of_scope: tuple[str, ...] = ()
    by_topic: dict[Topic, list[Snippet]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    # Per button key (`button_key`) the card id it stands for.
    button_keys: dict[str, str] = field(default_factory=dict)
    # The cards of the topics' own files (snippets/<topic>.yaml): each topic's general guidance,
    # as against the batches' cards for one situation (knowledge.ranking's GENERAL_BONUS).
    general: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.by_topic = {t: [] for t in Topic}
        self.aliases = {}
        self.button_keys = {}
        for snippet in self.snippets.values():
            self.by_topic[snippet.topic].append(snippet)
            for old in snippet.replaces:
                self.aliases[old] = snippet.id
            key = button_key(snippet.id)
            if (other := self.button_keys.setdefault(key, snippet.id)) != snippet.id:
                raise ValueError(f"cards {other!r} and {snippet.id!r} share the button key {key}")

    def resolve(self, snippet_id: str) -> Snippet | None:
        """The live snippet for an id or its button key, also for an id that a merge retired
        (`replaces`)."""
        snippet_id = self.button_keys.get(snippet_id, snippet_id)
        return self.snippets.get(self.aliases.get(snippet_id, snippet_id))

    def for_topic(self, topic: Topic, role: str | None = None) -> list[Snippet]:
        """Snippets whose primary topic is `topic`, fitting the role, in file order."""
        return [s for s in self.by_topic[topic] if s.audience.suits(role)]


@dataclass(frozen=True)
class Overlay:
    """The coordinators' published edits over the seed files, in the files' own layout: per
    snippet id its card (with `examples: {nl: [...], en: [...]}`), or `{retired: true,
    successor: id}`; per referral id its entry. Loaded with exactly the seed's validation."""

    snippets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    referrals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.snippets or self.referrals)


EDITED = PurePath("kennisbank")  # where the loader's errors place an edited card


class _Checker:
    """Validation helpers that name the file in every error."""

    def __init__(self, path: PurePath) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> KnowledgeError:
        return KnowledgeError(f"{self.path.name}: {where}: {problem}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "expected a mapping")
        return value

    def text(self, value: Any, where: str, limit: int | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "missing or empty text")
        value = " ".join(value.split())
        if limit is not None and len(value) > limit:
            raise self.fail(where, f"longer than {limit} characters ({len(value)})")
        return value

    def langs(self, value: Any, where: str, limit: int | None = None) -> dict[str, str]:
        data = self.mapping(value, where)
        for lang in LANGS:
            if lang not in data:
                raise self.fail(where, f"missing translation '{lang}'")
        return {lang: self.text(data[lang], f"{where}.{lang}", limit) for lang in LANGS}

    def lang_lists(self, value: Any, where: str) -> dict[str, tuple[str, ...]]:
        data = self.mapping(value, where)
        out = {}
        for lang in LANGS:
            items = data.get(lang)
            if not isinstance(items, list) or not items:
                raise self.fail(where, f"missing list for '{lang}'")
            out[lang] = tuple(self.text(i, f"{where}.{lang}") for i in items)
        return out

    def source(self, value: Any, where: str) -> str:
        """One source note: a seed with the place in it, the desk's own policy, or a public
        page (`url`) with the date it was read (`checked`). Returned as a readable line."""
        raw = self.mapping(value, where)
        place = raw.get("where")
        if not isinstance(place, str) or not place.strip():
            raise self.fail(where, "a source needs 'where' (what it says, or where in it)")
        url = raw.get("url")
        if url is not None:
            if not isinstance(url, str) or not URL_RE.match(url):
                raise self.fail(where, f"broken source link {url!r}")
            checked = str(raw.get("checked") or "")
            if not DATE_RE.match(checked):
                raise self.fail(where, "a source page needs 'checked: YYYY-MM-DD' (when it was "
                                       "read)")
            try:
                read_on = date.fromisoformat(checked)
            except ValueError:
                raise self.fail(where, f"'checked: {checked}' is not a date") from None
            if read_on > date.today():
                raise self.fail(where, f"'checked: {checked}' lies in the future: it is the "
                                       "day the page was read")
            return f"{url} ({checked}): {place}"
        seed = str(raw.get("seed") or "")
        if seed in SEEDS or seed == "desk":
            return f"seed {seed}: {place}"
        raise self.fail(where, f"source {seed!r} is neither a seed (000-004) nor the desk's "
                               "policy: a fact from elsewhere needs its 'url' and 'checked'")

    def sources(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "no source notes")
        return tuple(self.source(item, f"{where} #{i + 1}") for i, item in enumerate(value))

    def topic(self, value: Any, where: str) -> Topic:
        try:
            return Topic(value)
        except ValueError:
            raise self.fail(where, f"unknown topic id {value!r}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: plain
    YAML keeps only the last one, so a second list of examples for a card (or a card's field
    written twice) would silently replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path.name}: not valid YAML: {exc}") from None


def _load_referrals(path: Path, referrals: dict[str, Referral]) -> dict[str, Referral]:
    check = _Checker(path)
    data = check.mapping(_load_yaml(path), "file")
    for i, raw in enumerate(data.get("referrals") or []):
        referral = _referral(check, raw, f"referral #{i + 1}")
        if referral.id in referrals:
            raise check.fail(referral.id, "duplicate id")
        referrals[referral.id] = referral
    if not referrals:
        raise check.fail("file", "no referrals")
    return referrals


def _referral(check: _Checker, raw: Any, where: str) -> Referral:
    """One directory entry, validated."""
    raw = check.mapping(raw, where)
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise check.fail(where, f"bad id {rid!r}")
    url, phone = raw.get("url"), raw.get("phone")
    if url is not None and (not isinstance(url, str) or not URL_RE.match(url)):
        raise check.fail(rid, f"broken link {url!r}")
    if phone is not None and (not isinstance(phone, str) or not _PHONE.match(phone)):
        raise check.fail(rid, f"malformed phone number {phone!r}")
    sources = check.sources(raw.get("sources"), f"{rid}.sources")
    if (url or phone) and raw.get("contact") is None:
        # Contact details are copied from somewhere checkable, never written from memory.
        raise check.fail(rid, "a link or phone number needs 'contact': the seed or page "
                              "it was taken from")
    contact = (check.source(raw["contact"], f"{rid}.contact"),) \
        if raw.get("contact") is not None else ()
    return Referral(
        rid, check.langs(raw.get("name"), f"{rid}.name"),
        check.langs(raw.get("offers"), f"{rid}.offers"),
        check.langs(raw.get("audience"), f"{rid}.audience"), url, phone,
        contact + sources)


def _load_directory(data_dir: Path) -> dict[str, Referral]:
    """referrals.yaml, then any batch files in referrals/ (one id space)."""
    referrals: dict[str, Referral] = {}
    _load_referrals(data_dir / "referrals.yaml", referrals)
    extra = data_dir / "referrals"
    for path in sorted(extra.rglob("*.yaml")) if extra.is_dir() else ():
        _load_referrals(path, referrals)
    return referrals


def _load_topic_file(path: Path, referrals: dict[str, Referral],
                     seen: dict[str, Snippet], files: dict[str, PurePath]) -> TopicInfo:
    check = _Checker(path)
    data = check.mapping(_load_yaml(path), "file")
    head = check.mapping(data.get("topic"), "topic")
    topic = check.topic(head.get("id"), "topic.id")
    if path.stem != topic.value:
        raise check.fail("topic.id", f"file should be named {topic.value}.yaml")
    info = TopicInfo(topic, check.langs(head.get("label"), "topic.label"),
                     check.langs(head.get("description"), "topic.description"),
                     check.lang_lists(head.get("terms"), "topic.terms"))
    _load_snippets(check, data.get("snippets"), topic, referrals, seen, files)
    return info


def _load_batch_file(path: Path, referrals: dict[str, Referral],
                     seen: dict[str, Snippet], files: dict[str, PurePath]) -> None:
    """A batch of snippets in a sub-folder (snippets/<batch>/<topic>.yaml): no topic head,
    the file's name is the primary topic of every snippet in it."""
    check = _Checker(path)
    data = check.mapping(_load_yaml(path), "file")
    if "topic" in data:
        raise check.fail("topic", "a batch file has no topic head; name the file after the "
                                  "primary topic instead")
    topic = check.topic(path.stem, "file name")
    _load_snippets(check, data.get("snippets"), topic, referrals, seen, files)


def _load_snippets(check: _Checker, items: Any, topic: Topic, referrals: dict[str, Referral],
                   seen: dict[str, Snippet], files: dict[str, PurePath]) -> None:
    for i, raw in enumerate(items or []):
        snippet = _snippet(check, raw, f"snippet #{i + 1}", referrals, topic)
        if snippet.id in seen:
            raise check.fail(snippet.id, "duplicate snippet id")
        seen[snippet.id] = snippet
        files[snippet.id] = check.path


def _snippet(check: _Checker, raw: Any, where: str, referrals: dict[str, Referral],
             topic: Topic | None = None) -> Snippet:
    """One card, validated (its primary topic must be `topic` when given)."""
    raw = check.mapping(raw, where)
    sid = raw.get("id")
    if not isinstance(sid, str) or not _ID.match(sid):
        raise check.fail(where, f"bad id {sid!r}")
    topics = raw.get("topics")
    if not isinstance(topics, list) or not topics:
        raise check.fail(sid, "topics must be a non-empty list")
    parsed = tuple(check.topic(t, f"{sid}.topics") for t in topics)
    if topic is not None and parsed[0] is not topic:
        raise check.fail(sid, f"primary topic must be {topic.value} in this file")
    try:
        audience = Audience(raw.get("audience"))
    except ValueError:
        raise check.fail(sid, f"unknown audience {raw.get('audience')!r}") from None
    texts = {}
    for lang in LANGS:
        if lang not in raw:
            raise check.fail(sid, f"missing translation '{lang}'")
        body = check.mapping(raw[lang], f"{sid}.{lang}")
        texts[lang] = Text(check.text(body.get("title"), f"{sid}.{lang}.title", MAX_TITLE),
                           check.text(body.get("answer"), f"{sid}.{lang}.answer", MAX_ANSWER))
    links = tuple(raw.get("links") or ())
    for link in links:
        if link not in referrals:
            raise check.fail(sid, f"unknown referral {link!r}")
    notes = check.sources(raw.get("sources"), f"{sid}.sources")
    replaces = raw.get("replaces") or []
    if not isinstance(replaces, list) or not all(
            isinstance(old, str) and _ID.match(old) for old in replaces):
        raise check.fail(sid, "replaces must be a list of snippet ids")
    roles = raw.get("roles") or []
    if not isinstance(roles, list) or not all(r in WorkRole.__members__.values()
                                              for r in roles):
        raise check.fail(sid, "roles must be a list of: " + ", ".join(r.value for r in WorkRole))
    reassures = raw.get("reassures", False)
    if not isinstance(reassures, bool):
        raise check.fail(sid, "reassures must be true or false")
    return Snippet(sid, parsed, audience, texts, links, notes, tuple(replaces),
                   tuple(WorkRole(r) for r in roles), reassures)


def _replace_path(snippets: dict[str, Snippet], start: str, goal: str) -> list[str] | None:
    """The chain of `replaces` links from start back to goal, if there is one."""
    stack, seen = [[start]], {start}
    while stack:
        path = stack.pop()
        if path[-1] == goal:
            return path
        current = snippets.get(path[-1])
        for old in current.replaces if current else ():
            if old not in seen:
                seen.add(old)
                stack.append([*path, old])
    return None


def _check_replaces(snippets: dict[str, Snippet], files: dict[str, PurePath]) -> None:
    """Merged-away ids stay resolvable: each is retired once, never live, never in a cycle."""
    retired_by: dict[str, str] = {}
    for snippet in snippets.values():
        check = _Checker(files[snippet.id])
        for old in snippet.replaces:
            if old in snippets:
                back = _replace_path(snippets, old, snippet.id)
                if back is not None:
                    chain = " -> ".join([snippet.id, *back])
                    raise check.fail(snippet.id, f"replaces forms a cycle ({chain})")
                raise check.fail(snippet.id, f"replaces {old!r}, which is still a live snippet id")
            if old in retired_by:
                raise check.fail(snippet.id, f"replaces {old!r}, which {retired_by[old]!r} "
                                             "already replaces")
            retired_by[old] = snippet.id


def _load_flow(path: Path) -> SharingFlow:
    check = _Checker(path)
    data = check.mapping(_load_yaml(path), "file")
    steps = []
    for i, raw in enumerate(data.get("steps") or []):
        raw = check.mapping(raw, f"step #{i + 1}")
        sid = str(raw.get("id") or f"step{i + 1}")
        steps.append(FlowStep(sid, check.langs(raw.get("title"), f"{sid}.title"),
                              check.langs(raw.get("text"), f"{sid}.text"),
                              check.lang_lists(raw.get("questions"), f"{sid}.questions")))
    if len(steps) < 3:
        raise check.fail("steps", "the flow needs at least three steps")
    return SharingFlow(check.langs(data.get("intro"), "intro"),
                       check.langs(data.get("disclaimer"), "disclaimer"), tuple(steps))


def _load_examples(directory: Path) -> dict[Topic, dict[str, tuple[str, ...]]]:
    examples: dict[Topic, dict[str, tuple[str, ...]]] = {}
    # Batches live in sub-folders (examples/more/…); all files of a topic are merged.
    for path in sorted(directory.rglob("*.yaml")):
        check = _Checker(path)
        data = check.mapping(_load_yaml(path), "file")
        topic = check.topic(data.get("topic"), "topic")
        if path.stem != topic.value:
            raise check.fail("topic", f"file should be named {topic.value}.yaml")
        batch = check.lang_lists({k: data.get(k) for k in LANGS}, "examples")
        known = examples.setdefault(topic, {lang: () for lang in LANGS})
        for lang in LANGS:
            known[lang] = known[lang] + batch[lang]
    return examples


CASES = "cases"  # the snippet_examples sub-folder of practice cases (KnowledgeBase.case_examples)


def _load_snippet_examples(directory: Path, snippets: dict[str, Snippet]
                           ) -> tuple[dict[str, dict[str, tuple[str, ...]]], frozenset[str]]:
    """Per snippet its example questions per language; and which of them are practice cases."""
    examples: dict[str, dict[str, tuple[str, ...]]] = {}
    cases: set[str] = set()
    # Batches may live in sub-folders (snippet_examples/more/…); a snippet's lists are merged.
    for path in sorted(directory.rglob("*.yaml")) if directory.is_dir() else ():
        check = _Checker(path)
        data = _load_yaml(path)
        if data is None:
            continue
        for sid, lists in check.mapping(data, "file").items():
            if sid not in snippets:
                raise check.fail(str(sid), "unknown snippet id")
            lists = check.mapping(lists, str(sid))
            known = examples.setdefault(sid, {lang: () for lang in LANGS})
            # A snippet may have examples in one language only, or none at all.
            for lang in LANGS:
                items = lists.get(lang) or []
                if not isinstance(items, list):
                    raise check.fail(f"{sid}.{lang}", "expected a list")
                texts = tuple(check.text(i, f"{sid}.{lang}") for i in items)
                known[lang] += texts
                if path.parent.name == CASES:
                    cases.update(texts)
    return examples, frozenset(cases)


def _load_out_of_scope(path: Path) -> tuple[str, ...]:
    if not path.exists():
        return ()
    lists = _Checker(path).lang_lists(_load_yaml(path), "file")
    return lists["nl"] + lists["en"]


def _load_urgency_examples(path: Path) -> dict[bool, tuple[str, ...]]:
    if not path.exists():
        return {}
    check = _Checker(path)
    data = check.mapping(_load_yaml(path), "file")
    out = {}
    for key, acute in (("acute", True), ("not_acute", False)):
        lists = check.lang_lists(data.get(key), key)
        out[acute] = lists["nl"] + lists["en"]
    return out


def load_knowledge(data_dir: Path = DATA_DIR, overlay: Overlay | None = None) -> KnowledgeBase:
    """Load every knowledge file, and the coordinators' published edits over them, raising
    KnowledgeError naming the first bad file (or edited card)."""
    referrals = _load_directory(data_dir)
    snippets: dict[str, Snippet] = {}
    files: dict[str, PurePath] = {}
    topics: dict[Topic, TopicInfo] = {}
    for path in sorted((data_dir / "snippets").glob("*.yaml")):
        info = _load_topic_file(path, referrals, snippets, files)
        topics[info.id] = info
    general = frozenset(snippets)
    # Batches (snippets/<batch>/<topic>.yaml) come after the topic files, in name order, so
    # the topic's own file keeps the first places in browsing.
    for path in sorted((data_dir / "snippets").glob("*/*.yaml")):
        _load_batch_file(path, referrals, snippets, files)
    examples, cases = _load_snippet_examples(data_dir / "snippet_examples", snippets)
    if overlay:
        snippets = _apply_overlay(overlay, referrals, snippets, files, examples, cases)
    _check_replaces(snippets, files)
    missing = [t.value for t in Topic if t not in topics]
    if missing:
        raise KnowledgeError(f"snippets/: no file for topic(s) {', '.join(missing)}")
    kb = KnowledgeBase(topics, snippets, referrals,
                       _load_flow(data_dir / "information_sharing_flow.yaml"),
                       _load_examples(data_dir / "examples"),
                       _load_urgency_examples(data_dir / "urgency_examples.yaml"),
                       examples,
                       case_examples=cases,
                       out_of_scope=_load_out_of_scope(data_dir / "out_of_scope_examples.yaml"),
                       general=general)
    for topic, items in kb.by_topic.items():
        if not items:
            raise KnowledgeError(f"snippets/{topic.value}.yaml: no snippets")
    return kb


def card_examples(check: _Checker, raw: Mapping[str, Any], sid: str
                  ) -> dict[str, tuple[str, ...]]:
    """An edited card's example questions per language (either may be empty)."""
    lists = check.mapping(raw.get("examples") or {}, f"{sid}.examples")
    out = {}
    for lang in LANGS:
        items = lists.get(lang) or []
        if not isinstance(items, list):
            raise check.fail(f"{sid}.examples.{lang}", "expected a list")
        out[lang] = tuple(check.text(i, f"{sid}.examples.{lang}") for i in items)
    return out


def build_card(raw: Mapping[str, Any], referrals: Mapping[str, Referral]) -> Snippet:
    """One edited card, validated as the loader validates the seed's (KnowledgeError)."""
    return _snippet(_Checker(EDITED), raw, str(raw.get("id") or "card"), dict(referrals))


def _apply_overlay(overlay: Overlay, referrals: dict[str, Referral],
                   snippets: dict[str, Snippet], files: dict[str, PurePath],
                   examples: dict[str, dict[str, tuple[str, ...]]],
                   cases: frozenset[str]) -> dict[str, Snippet]:
    """The seed with the published edits: an edited card keeps its place, a new one comes
    after its topic's cards, a retired one is dropped and its id resolves to its successor.
    An edited card's example questions replace its own; its practice cases (`cases`, not
    part of the card in the editor) stay."""
    check = _Checker(EDITED)
    for rid, raw in overlay.referrals.items():
        referral = _referral(check, raw, rid)
        if referral.id != rid:
            raise check.fail(rid, "a referral's id cannot change")
        referrals[rid] = referral
    edited: dict[str, Snippet] = {}
    retired: dict[str, str] = {}
    for sid, raw in overlay.snippets.items():
        if raw.get("retired"):
            successor = raw.get("successor")
            if not isinstance(successor, str) or successor == sid:
                raise check.fail(sid, "a retired card needs a successor card")
            retired[sid] = successor
            continue
        snippet = _snippet(check, raw, sid, referrals)
        if snippet.id != sid:
            raise check.fail(sid, "a card's id cannot change")
        edited[sid] = snippet
        own = card_examples(check, raw, sid)
        kept = examples.get(sid, {})
        examples[sid] = {lang: own[lang] + tuple(q for q in kept.get(lang, ()) if q in cases)
                         for lang in LANGS}
        files[sid] = check.path
    out = {sid: edited.pop(sid, snippet) for sid, snippet in snippets.items()}
    out.update(edited)
    for sid, successor in retired.items():
        gone = out.pop(sid, None)
        examples.pop(sid, None)
        if successor not in out:
            raise check.fail(sid, f"successor {successor!r} is not a live card")
        # The retired id, and the ids it had itself replaced, now resolve to the successor.
        moved = (sid, *(gone.replaces if gone else ()))
        live = out[successor]
        out[successor] = replace(live, replaces=(*live.replaces,
                                                 *(m for m in moved if m not in live.replaces)))
    for sid in out:
        files.setdefault(sid, check.path)
    return out
