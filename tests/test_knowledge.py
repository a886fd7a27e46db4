"""The knowledge files load, validate, and meet the content requirements."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from handlers.notify import SNIPPET
from knowledge.base import DATA_DIR, KnowledgeError, button_key, load_knowledge
from knowledge.style import answer_problems
from knowledge.topics import Topic

pytestmark = pytest.mark.timeout(60)
STABLE_IDS = Path(__file__).parent / "data" / "stable_snippet_ids.txt"



def test_every_snippet_is_complete(kb) -> None:
    assert len(kb.snippets) >= 60
    for topic in Topic:
        assert len(kb.by_topic[topic]) >= 4, topic
        assert any(s.audience.value in ("both", "volunteer") for s in kb.by_topic[topic]), topic
    for snippet in kb.snippets.values():
        for lang in ("nl", "en"):
            text = snippet.text(lang)
            assert text.title and 150 <= len(text.answer) <= 900, (snippet.id, lang)
        assert snippet.sources, snippet.id
        assert all(link in kb.referrals for link in snippet.links), snippet.id


def test_every_card_fits_a_telegram_button(kb) -> None:
    # Callback data holds 64 bytes: the expert's guidance prefix, a ticket id (12 characters),
    # ":" and the card's button key, whatever the length of the card's id.
    for snippet in kb.snippets.values():
        key = button_key(snippet.id)
        assert len(f"{SNIPPET}{'t' * 12}:{key}".encode()) <= 64
        assert kb.resolve(key) is snippet and kb.resolve(snippet.id) is snippet
    assert len(kb.button_keys) == len(kb.snippets)
    assert kb.resolve("#0000000000") is None


def test_every_card_says_where_to_go(kb) -> None:
    # A first answer always names at least one place to turn to, if only the advice line.
    assert [s.id for s in kb.snippets.values() if not s.links] == []


def test_required_content_is_present(kb) -> None:
    nl = " ".join(s.text("nl").answer.lower() for s in kb.snippets.values())
    for phrase in ("gevoeligheid", "verkenning", "lidmaatschap", "actie", "polarisatie",
                   "extremisme", "professionele eenzaamheid", "ouders"):
        assert phrase in nl, phrase
    assert kb.referrals["advieslijn_jep"].phone == "070-333 45 58"
    assert "platformjep.nl" in (kb.referrals["advieslijn_jep"].url or "")
    assert len(kb.flow.steps) >= 5
    assert "juridisch" in kb.flow.disclaimer["nl"]


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


@pytest.mark.parametrize(("old", "new", "message"), [
    ("topics: [signals]", "topics: [signalz]", "signals.yaml: signals-phases.topics: unknown"),
    ("    en:\n      title: \"The four phases", "    xx:\n      title: \"The four phases",
     "missing translation 'en'"),
    ("links: [advieslijn_jep, politie, emergency_112]", "links: [nope]",
     "unknown referral 'nope'"),
    ("links: [advieslijn_jep, politie, emergency_112]",
     "links: [advieslijn_jep, politie, emergency_112]\n    reassures: \"yes\"",
     "reassures must be true or false"),
])
def test_loader_names_the_file_and_problem(tmp_path: Path, old: str, new: str,
                                           message: str) -> None:
    data = _copy(tmp_path)
    path = data / "snippets" / "signals.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(KnowledgeError, match=message.split(": ")[0]) as info:
        load_knowledge(data)
    assert message.split(": ")[-1] in str(info.value)


def test_broken_link_syntax_is_rejected(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    path = data / "referrals.yaml"
    path.write_text(path.read_text().replace("https://www.platformjep.nl", "htp:/platformjep",
                                             1))
    with pytest.raises(KnowledgeError, match=r"referrals.yaml: advieslijn_jep: broken link"):
        load_knowledge(data)


@pytest.mark.parametrize(("checked", "message"), [
    ((date.today() + timedelta(days=1)).isoformat(), "lies in the future"),
    ("2026-02-30", "is not a date"),
])
def test_a_source_page_needs_the_real_day_it_was_read(tmp_path: Path, checked: str,
                                                     message: str) -> None:
    """A source's `checked` date says when the page was read: a day that does not exist or
    has not come yet is a typo, and the loader names it."""
    data = _copy(tmp_path)
    path = data / "snippets" / "signals.yaml"
    text = path.read_text()
    assert re.search(r'checked: "\d{4}-\d\d-\d\d"', text)
    path.write_text(re.sub(r'checked: "\d{4}-\d\d-\d\d"', f'checked: "{checked}"', text,
                           count=1))
    with pytest.raises(KnowledgeError, match=r"signals.yaml") as info:
        load_knowledge(data)
    assert message in str(info.value)


def test_a_card_listed_twice_in_one_examples_file_is_rejected(tmp_path: Path) -> None:
    """Plain YAML keeps only the last of two equal keys: a second list of example questions
    for a card would silently drop the first. The loader says so instead."""
    data = _copy(tmp_path)
    path = data / "snippet_examples" / "signals.yaml"
    text = path.read_text()
    first = next(line for line in text.splitlines() if line and not line.startswith("#"))
    assert first.endswith(":") and not first.startswith(" ")
    path.write_text(f"{text}\n{first}\n  nl: [\"nog een vraag\"]\n")
    with pytest.raises(KnowledgeError, match=r"signals.yaml: not valid YAML") as info:
        load_knowledge(data)
    assert f"found duplicate key {first[:-1]!r}" in str(info.value)


def test_no_snippet_id_ever_disappears(kb) -> None:
    """Deep links, feedback counts and stored summaries refer to ids that were once live."""
    known = [line.strip() for line in STABLE_IDS.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(known) >= 100
    gone = [sid for sid in known if sid not in kb.snippets and sid not in kb.aliases]
    assert not gone, f"snippet ids removed without a 'replaces' entry: {gone}"


def _add_replaces(data: Path, snippet_id: str, old_ids: str) -> None:
    """Give a snippet a `replaces:` line in the copied data."""
    for path in (data / "snippets").glob("*.yaml"):
        text = path.read_text()
        marker = f"  - id: {snippet_id}\n"
        if marker in text:
            path.write_text(text.replace(marker, f"{marker}    replaces: {old_ids}\n", 1))
            return
    raise AssertionError(snippet_id)


def test_replaces_resolves_old_ids(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    _add_replaces(data, "signals-phases", "[signals-old-phases, signals-fases]")
    kb = load_knowledge(data)
    assert kb.resolve("signals-old-phases") is kb.snippets["signals-phases"]
    assert kb.resolve("signals-fases") is kb.snippets["signals-phases"]
    assert kb.resolve("signals-triggers") is kb.snippets["signals-triggers"]
    assert kb.resolve("no-such-snippet") is None
    assert kb.snippets["signals-phases"].replaces == ("signals-old-phases", "signals-fases")


@pytest.mark.parametrize(("edits", "message"), [
    ([("signals-phases", "[signals-triggers]")],
     "signals.yaml: signals-phases: replaces 'signals-triggers', which is still a live"),
    ([("signals-phases", "[old-one]"), ("family-parents-allies", "[old-one]")],
     "signals.yaml: signals-phases: replaces 'old-one', which 'family-parents-allies' "
     "already replaces"),
    ([("signals-phases", "[signals-phases]")],
     "signals.yaml: signals-phases: replaces forms a cycle (signals-phases -> signals-phases)"),
    ([("signals-phases", "[signals-triggers]"), ("signals-triggers", "[signals-phases]")],
     "signals.yaml: signals-phases: replaces forms a cycle "
     "(signals-phases -> signals-triggers -> signals-phases)"),
    ([("signals-phases", "old-id")],
     "signals.yaml: signals-phases: replaces must be a list of snippet ids"),
    ([("signals-phases", "[Bad Id]")],
     "signals.yaml: signals-phases: replaces must be a list of snippet ids"),
])
def test_bad_replaces_names_file_and_problem(tmp_path: Path, edits: list[tuple[str, str]],
                                             message: str) -> None:
    data = _copy(tmp_path)
    for snippet_id, old_ids in edits:
        _add_replaces(data, snippet_id, old_ids)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(data)
    assert message in str(info.value)


def test_snippet_examples_name_live_snippets_of_their_topic(kb) -> None:
    """Per-snippet example questions (used by the ranker) point at snippets that exist."""
    files = sorted((DATA_DIR / "snippet_examples").glob("*.yaml"))
    assert files
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for sid, questions in data.items():
            snippet = kb.resolve(sid)
            assert snippet is not None and snippet.topic.value == path.stem, (path.name, sid)
            assert questions.get("nl") and questions.get("en"), (path.name, sid)


def test_practice_cases_are_weighted_examples_that_leak_no_evaluation_question(kb) -> None:
    """The practice cases (snippet_examples/cases/) are examples of live cards that the ranker
    weighs CASE_WEIGHT, and none of them is a question of a set the tests measure the desk on
    (ranking, scope, topic triage, acute danger, the practice evaluation set)."""
    from knowledge.training import CASE_WEIGHT, snippet_texts, snippet_weights

    cases = kb.case_examples
    assert len(cases) >= 1000
    examples = {q for lists in kb.snippet_examples.values() for qs in lists.values() for q in qs}
    assert cases <= examples
    texts, _ = snippet_texts(kb)
    weights = dict(zip(texts, snippet_weights(kb, texts), strict=True))
    assert {weights[q] for q in cases} == {CASE_WEIGHT} and 0 < CASE_WEIGHT < 1
    assert {w for q, w in weights.items() if q not in cases} == {1.0}

    def fold(text: str) -> str:
        return " ".join(text.lower().split())

    data = Path(__file__).parent / "data"
    measured = {fold(r["q"]) for r in yaml.safe_load(
        (data / "snippet_eval.yaml").read_text(encoding="utf-8"))["questions"]}
    for name in ("practice_eval.yaml", "out_of_scope.yaml"):
        measured |= {fold(r["question"]) for r in yaml.safe_load(
            (data / name).read_text(encoding="utf-8"))}
    # (urgency_practice.jsonl holds the practice sets' questions for the acute-danger model,
    # which learns from urgency_examples.yaml only, not from card examples.)
    for name in ("triage_dev.jsonl", "triage_holdout.jsonl", "urgency_fresh.jsonl"):
        measured |= {fold(json.loads(line)["text"]) for line in
                     (data / name).read_text(encoding="utf-8").splitlines() if line}
    leaked = sorted(q for q in cases if fold(q) in measured)
    assert not leaked, leaked[:5]


def test_house_style(kb) -> None:
    """One house style: short answers ending in a next step, one 'Advieslijn', anecdotes once
    (the same rules the dashboard's editor applies before publishing)."""
    for snippet in kb.snippets.values():
        for lang in ("nl", "en"):
            assert answer_problems(lang, snippet.text(lang).answer) == [], (snippet.id, lang)
    nl = [s.text("nl").answer for s in kb.snippets.values()]
    # Each names one seed anecdote ("een mentor liet een jongen beloven ..."), not a role that
    # cards may name as the next step ("betrek de mentor").
    for anecdote in ("mentor liet", "verrader", "9/11", "IS-vlag", "pasklare antwoorden",
                     "dure auto", "Brussel"):
        assert sum(anecdote in text for text in nl) <= 1, anecdote


def test_the_suicide_prevention_line_carries_its_short_number(kb) -> None:
    # 113 is, like 112, a short number a referral may carry (copied from 113.nl's own page).
    line = kb.referrals["zelfmoordpreventie_113"]
    assert line.phone == "113" and line.url == "https://www.113.nl"
