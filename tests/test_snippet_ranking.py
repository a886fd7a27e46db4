"""Snippet ranking across topics: hit@1 / hit@3 on a labelled set written apart, the role as
a preference, snippets without examples, and the answer a user sees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from knowledge.base import DATA_DIR, KnowledgeBase, KnowledgeError, WorkRole, load_knowledge
from knowledge.features import SparseRow, Tokens
from knowledge.preference import CLOSE_SECOND, close_second, put_first
from knowledge.ranking import (
    GENERAL_BONUS,
    LONG_QUESTION,
    ROLE_PENALTY,
    SHORT_QUESTION,
    UNNAMED_LONG_PENALTY,
    UNNAMED_ROLE_PENALTY,
    SnippetRanker,
)
from knowledge.topics import Topic
from knowledge.training import train_ranker
from knowledge.triage import SCOPE_THRESHOLD, STRONG_FIT, WEAK_FIT, Triage, TriageResult
from knowledge.work_roles import PLACE_ROLES
from tests.sandbox_client import DeskHarness
from tests.trained import seed

EVAL = Path(__file__).parent / "data" / "snippet_eval.yaml"
# Floors just under the measured figures (see the README); they catch regressions.
HIT1_FLOOR, HIT3_FLOOR = 0.83, 0.92  # measured 0.836 / 0.924 (session 17)




GRADED = DATA_DIR / "snippet_examples" / "graded" / "practice_sets.yaml"
GRADED_FLOOR = 0.97  # 307 of 307 when these examples were added


def _asked_as() -> dict[str, tuple[str, str]]:
    """Question text -> (language, role) as the practice sets wrote them."""
    found = {}
    for path in sorted((Path(__file__).parent / "data").glob("practice_*.yaml")):
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(items, list):
            found |= {item["question"].strip(): (item["lang"], item["role"]) for item in items
                      if isinstance(item, dict) and "question" in item and "role" in item}
    return found


@pytest.mark.timeout(300)
def test_questions_graders_marked_good_keep_their_card(triage: Triage) -> None:
    """A new card or example must not take over what a blind grader found well answered: the
    graded-good practice questions still get their card first, as their asker sees it, and
    as the answer (the scope model, retrained with every card, must not abstain on them)."""
    asked_as = _asked_as()
    graded = yaml.safe_load(GRADED.read_text(encoding="utf-8"))
    kept, lost = 0, []
    for card, by_lang in graded.items():
        for texts in by_lang.values():
            for text in texts:
                lang, role = asked_as[text.strip()]  # each comes from a practice set
                result = triage.triage(text, lang, role)
                first = result.snippets[:1]
                # Shown as the answer: an abstention would only offer it as a button.
                if first == [card] and (result.covered or result.urgent):
                    kept += 1
                else:
                    shown = first if result.covered or result.urgent else "no card"
                    lost.append(f"{card} -> {shown}: {text[:60]}")
    total = kept + len(lost)
    assert total >= 300
    assert kept / total >= GRADED_FLOOR, f"{kept}/{total} kept; lost:\n" + "\n".join(lost)


def _aliases(kb: KnowledgeBase) -> dict[str, str]:
    """Old id -> surviving id for merged snippets, so labels written earlier stay valid."""
    return {old: s.id for s in kb.snippets.values() for old in getattr(s, "replaces", ())}


@pytest.mark.timeout(300)
def test_hit_rates_on_the_labelled_set(kb: KnowledgeBase, triage: Triage) -> None:
    rows = yaml.safe_load(EVAL.read_text(encoding="utf-8"))["questions"]
    assert len(rows) >= 150 and sum(r["lang"] == "nl" for r in rows) >= 100
    alias = _aliases(kb)
    hits: dict[str, list[tuple[bool, bool]]] = {"nl": [], "en": []}
    for row in rows:
        good = {alias.get(g, g) for g in row["good"]}
        assert 1 <= len(good) <= 3 and good <= kb.snippets.keys(), row
        ranked = triage.triage(row["q"], row["lang"]).snippets
        hits[row["lang"]].append((ranked[0] in good, bool(good & set(ranked[:3]))))

    def rate(pairs: list[tuple[bool, bool]], k: int) -> float:
        return sum(p[k] for p in pairs) / len(pairs)

    everything = hits["nl"] + hits["en"]
    report = (f"snippets: hit@1 {rate(everything, 0):.3f}, hit@3 {rate(everything, 1):.3f} "
              f"on {len(everything)} questions (nl {rate(hits['nl'], 0):.3f}/"
              f"{rate(hits['nl'], 1):.3f}, en {rate(hits['en'], 0):.3f}/"
              f"{rate(hits['en'], 1):.3f})")
    print(report)
    assert rate(everything, 0) >= HIT1_FLOOR, report
    assert rate(everything, 1) >= HIT3_FLOOR, report


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("text", "good"), [
    ("hoe bespreek ik complotdenken in de klas", {"online-conspiracy",
                                                  "conversation-conspiracy"}),
    ("racist chants at a football club", {"polarisation-volunteer",
                                          "polarisation-hate-sport-volunteer"}),
    ("1488 op zijn schrift", {"ideologies-symbols", "ideologies-symbols-far-right-codes"}),
    ("own support after aggression", {"professional_support-after-attack",
                                      "professional_support-loneliness"}),
])
def test_the_issue_examples_get_the_better_snippet_first(triage: Triage, text: str,
                                                        good: set[str]) -> None:
    assert triage.triage(text).snippets[0] in good


@pytest.mark.timeout(120)
def test_ranking_spans_topics_and_keeps_every_snippet(kb: KnowledgeBase,
                                                     triage: Triage) -> None:
    ranked = triage.rank_snippets("de moeder van een leerling schaamt zich en wil niet praten "
                                  "over wat haar zoon online deelt", "nl", limit=None)
    assert len(ranked) == len(kb.snippets) and len({s.id for s in ranked}) == len(kb.snippets)
    # One ranking over all cards, not only the triaged topic's: with 42 family cards the first
    # ten may all be family cards (session 15: an online card is 12th of 620), but cards of
    # another topic follow closely.
    assert ranked[0].id == "family-shame"
    assert len({s.topic for s in ranked[:15]}) >= 2
    result = triage.triage("een jongere gelooft dat de aanslag nep was, hoe ga ik het gesprek "
                           "aan?", "nl")
    assert len(result.snippets) == 6
    # The conversation cards on conspiracy belief (the general one, and the one for when
    # facts make a young person clam up, which session 16's examples made more reachable).
    assert result.snippets[0] in {"online-conspiracy", "conversation-conspiracy",
                                  "conversation-conspiracy-distrust-not-facts"}


@pytest.mark.timeout(120)
def test_volunteer_snippets_rank_higher_for_volunteers(triage: Triage) -> None:
    text = "een jongen uit de groep zegt harde dingen over buitenlanders, wat moet ik doen?"
    plain = [s.id for s in triage.rank_snippets(text, "nl", limit=None)]
    volunteer = triage.rank_snippets(text, "nl", audience="volunteer", limit=None)
    assert volunteer[0].audience.value in ("volunteer", "both")
    for snippet in volunteer:
        if snippet.audience.value == "volunteer":
            assert [s.id for s in volunteer].index(snippet.id) <= plain.index(snippet.id)
    professional = triage.rank_snippets(text, "nl", audience="professional", limit=3)
    assert all(s.audience.value != "volunteer" for s in professional)


@pytest.mark.timeout(60)
def test_general_cards_are_the_topic_files_own(kb: KnowledgeBase) -> None:
    own = {card["id"] for path in (DATA_DIR / "snippets").glob("*.yaml")
           for card in yaml.safe_load(path.read_text(encoding="utf-8"))["snippets"]}
    assert kb.general == own
    assert "signals-phases" in kb.general
    assert "family-sibling-worried-brother-preacher-clips" not in kb.general  # a batch's card


def _scored(triage: Triage, text: str) -> tuple[SnippetRanker, SparseRow, dict[Topic, float]]:
    """The ranker, the text's feature row and its topic probabilities: what `scores` takes."""
    return triage.ranker, triage.features.row(Tokens(text)), dict(triage.rank(text, "nl"))


@pytest.mark.timeout(60)
def test_a_short_question_leans_to_the_general_cards(kb: KnowledgeBase, triage: Triage,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    text = "mijn leerlingen zeggen dat ze er nooit bij gaan horen"
    ranker, row, topics = _scored(triage, text)
    short = ranker.scores(row, topics, words=SHORT_QUESTION)
    longer = ranker.scores(row, topics, words=SHORT_QUESTION + 1)
    general = np.array([s.id in kb.general for s in ranker.snippets])
    assert np.allclose((short - longer)[general], GENERAL_BONUS)
    assert np.allclose((short - longer)[~general], 0.0)
    assert np.array_equal(longer, ranker.scores(row, topics))  # no length given: no bonus
    # Triage gives the ranker the message's length in words.
    seen = []
    scores = ranker.scores
    monkeypatch.setattr(ranker, "scores", lambda *a, **k: seen.append(a[-1]) or scores(*a, **k))
    triage.triage(text, "nl")
    triage.triage(text + " " + " ".join(["echt"] * SHORT_QUESTION), "nl")
    assert seen == [len(Tokens(text).words), len(Tokens(text).words) + SHORT_QUESTION]


@pytest.mark.timeout(60)
def test_a_long_question_without_a_role_lets_place_cards_through(kb: KnowledgeBase,
                                                                 triage: Triage) -> None:
    """A writer who names no role: a card set in a place (school, club, ...) loses
    UNNAMED_ROLE_PENALTY on a short question, UNNAMED_LONG_PENALTY on a long one; a card for a
    profession of few keeps the full penalty, and a writer who names a role is not affected."""
    ranker, row, topics = _scored(triage, "een leerling zegt dingen over de overheid die me "
                                  "zorgen baren")
    short = ranker.scores(row, topics, words=LONG_QUESTION)
    long = ranker.scores(row, topics, words=LONG_QUESTION + 1)
    roles = [frozenset(s.roles) for s in ranker.snippets]
    placed = np.array([bool(r) and bool(r & PLACE_ROLES) for r in roles])
    few = np.array([bool(r) and not r & PLACE_ROLES for r in roles])
    assert placed.any() and few.any()
    assert UNNAMED_LONG_PENALTY < UNNAMED_ROLE_PENALTY < ROLE_PENALTY
    assert np.allclose((long - short)[placed], UNNAMED_ROLE_PENALTY - UNNAMED_LONG_PENALTY)
    assert np.allclose((long - short)[~placed], 0.0)
    # A writer who names a role: the length changes nothing here (both are long).
    teacher = frozenset({WorkRole.SCHOOL})
    assert np.array_equal(ranker.scores(row, topics, roles=teacher, words=LONG_QUESTION),
                          ranker.scores(row, topics, roles=teacher, words=LONG_QUESTION + 1))
    # No length given (a caller that does not know it): the short question's penalty.
    assert np.array_equal(ranker.scores(row, topics),
                          ranker.scores(row, topics, words=SHORT_QUESTION + 1))


@pytest.mark.timeout(300)  # trains the whole ranker in the test process (~60 s alone)
def test_a_snippet_without_examples_is_still_ranked(kb: KnowledgeBase, triage: Triage) -> None:
    bare = KnowledgeBase(kb.topics, kb.snippets, kb.referrals, kb.flow, kb.examples,
                         kb.urgency_examples,
                         {k: v for k, v in kb.snippet_examples.items() if k != "signals-phases"})
    ranker = train_ranker(bare, triage.features)
    text = "in welke fase van radicalisering zit hij, verkenning of al lid van een groep?"
    topics = dict(triage.rank(text, "nl"))
    row = triage.features.row(Tokens(text))
    assert "signals-phases" in [s.id for s in ranker.rank(row, topics, limit=3)]
    assert len(ranker.rank(row, topics)) == len(kb.snippets)


@pytest.mark.timeout(60)
def test_examples_for_an_unknown_snippet_are_rejected(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    (data / "snippet_examples" / "signals.yaml").write_text(
        "signals-no-such-snippet:\n  nl: [\"een vraag\"]\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="signals-no-such-snippet"):
        load_knowledge(data)


@pytest.mark.timeout(120)
async def test_answer_shows_the_best_snippet_and_the_next_as_buttons(
    harness: DeskHarness,
) -> None:
    person = harness.person(2301, "Sanne", "nl")
    await person.send("/start")
    welcome = await person.expect(lambda m: bool(m["buttons"]))
    await person.press_label(welcome, "professional")
    await person.expect("/")
    question = "hoe bespreek ik complotdenken in de klas"
    await person.send(question)
    answer = await person.expect("Onderwerp:")
    kb = harness.desk.kb
    result = harness.desk.triage.triage(question, "nl", "professional")
    ranked = result.snippets
    assert kb.snippets[ranked[0]].text("nl").title in answer["text"]
    # The next card in full too when the ranking could hardly choose; then the buttons.
    second = close_second(result, [kb.snippets[s] for s in ranked], covered=True)
    shown = 1 if second is None else 2
    assert (kb.snippets[ranked[1]].text("nl").title in answer["text"]) is (shown == 2)
    more = [kb.resolve(b["data"].removeprefix("sn:")).id for row in answer["buttons"]
            for b in row if b["text"].startswith("➕")]
    assert more == ranked[shown:shown + 2]


@pytest.mark.timeout(120)
def test_cli_lists_snippets_ranked_across_topics(kb: KnowledgeBase, triage: Triage,
                                                 tmp_path: Path) -> None:
    questions = ["hoe bespreek ik complotdenken in de klas", "racist chants at a football club"]
    stdin = "".join(json.dumps({"text": q}) + "\n" for q in questions)
    seed(tmp_path / "data")  # the run's training: the CLI loads it instead of training again
    env = {**os.environ, "VRAAGBAAK_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "triage"], input=stdin, env=env,
                          capture_output=True, text=True, timeout=110, check=True)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    for question, line in zip(questions, lines, strict=True):
        assert line["snippets"] == triage.triage(question).snippets
        assert set(line["snippets"]) <= kb.snippets.keys()
    assert lines[0]["snippets"][0] in {"online-conspiracy", "conversation-conspiracy"}


def _result(fit: float, in_scope: float) -> TriageResult:
    """A triage result with only its fit and P(covered) set."""
    return TriageResult([(Topic.SIGNALS, 1.0)], False, ["x"], "nl", fit, in_scope)


def test_weak_fit_needs_a_covered_question_and_a_low_score() -> None:
    assert _result(WEAK_FIT - 0.5, 0.95).weak_fit
    assert not _result(WEAK_FIT + 0.5, 0.95).weak_fit  # fits well enough
    assert not _result(WEAK_FIT - 0.5, 0.2).weak_fit  # not covered: the desk abstains instead


def test_a_card_that_fits_strongly_is_shown_even_when_the_scope_model_hesitates() -> None:
    hesitant = SCOPE_THRESHOLD - 0.01
    assert _result(STRONG_FIT, hesitant).covered
    assert not _result(STRONG_FIT - 0.5, hesitant).covered  # an ordinary fit: the scope decides
    assert _result(STRONG_FIT - 0.5, SCOPE_THRESHOLD).covered


@pytest.mark.timeout(180)
async def test_a_card_that_fits_poorly_is_shown_with_a_word_that_it_may_not_fit(
    harness: DeskHarness,
) -> None:
    triage = harness.desk.triage
    questions = [q for q, asked in _asked_as().items() if asked == ("nl", "professional")]
    results = [(q, triage.triage(q, "nl", "professional")) for q in questions]
    weak = next(q for q, r in results if r.weak_fit and not r.urgent and r.lang == "nl")
    strong = next(q for q, r in results if r.covered and not r.weak_fit and not r.urgent
                  and r.lang == "nl")
    for user_id, question, warned in ((2311, weak, True), (2312, strong, False)):
        person = harness.person(user_id, "Sanne", "nl")
        await person.send("/start")
        welcome = await person.expect(lambda m: bool(m["buttons"]))
        await person.press_label(welcome, "professional")
        await person.expect("/")
        await person.send(question)
        answer = await person.expect("Onderwerp:")
        best = harness.desk.kb.snippets[triage.triage(question, "nl", "professional")
                                        .snippets[0]]
        assert best.text("nl").title in answer["text"]  # the card is still shown
        assert ("past misschien niet precies" in answer["text"]) is warned


def _scored_result(kb: KnowledgeBase, gap: float, urgent: bool = False) -> TriageResult:
    """A calm covered result whose two best cards score `gap` apart."""
    first, second, third = list(kb.general)[:3]
    return TriageResult([(Topic.SIGNALS, 1.0)], urgent, [first, second, third], "nl", 0.0, 0.95,
                        scores=(1.0, 1.0 - gap, -20.0))


def test_a_close_second_card_is_sent_only_for_a_calm_covered_question(kb: KnowledgeBase) -> None:
    """The rule lives in the domain: a second card in full when the ranking could hardly
    choose, never on an alarm or for a question the desk does not cover; it follows the
    order the desk shows (`put_first`), with that order's scores."""
    for gap, expected in ((0.0, True), (CLOSE_SECOND - 0.01, True), (CLOSE_SECOND, False),
                          (12.0, False)):
        result = _scored_result(kb, gap)
        ordered = [kb.snippets[s] for s in result.snippets]
        second = close_second(result, ordered, covered=True)
        assert (second is ordered[1]) is expected and (second is None) is not expected
        assert close_second(result, ordered, covered=False) is None
        assert close_second(_scored_result(kb, gap, urgent=True), ordered, covered=True) is None
    # The desk's order, not the ranking's: the third card shown second is far behind.
    result = _scored_result(kb, 0.0)
    reordered = [kb.snippets[s] for s in (result.snippets[0], result.snippets[2])]
    assert close_second(result, reordered, covered=True) is None
    # A card missing from the scored list (put in front for a volunteer) is never a close call.
    stranger = next(s for s in kb.snippets.values() if s.id not in result.snippets)
    assert close_second(result, [stranger, *reordered], covered=True) is None
    assert close_second(result, reordered[:1], covered=True) is None


@pytest.mark.timeout(180)
async def test_two_cards_the_ranking_could_hardly_choose_between_are_both_sent(
    harness: DeskHarness,
) -> None:
    """A professional whose question scores two cards within CLOSE_SECOND gets both in full,
    in one message: the best, then 'this may also fit' with the second, the buttons under
    them (the second no longer offered as a button). A clear winner comes alone."""
    triage, kb = harness.desk.triage, harness.desk.kb
    questions = [q for q, asked in _asked_as().items() if asked == ("nl", "professional")]

    def shown(question: str) -> list[str]:
        result = triage.triage(question, "nl", "professional")
        ordered = put_first(kb, [kb.snippets[s] for s in result.snippets], result.top,
                            "professional", result.urgent, result.urgent_sure)
        if result.urgent or not result.covered or result.lang != "nl" or result.weak_fit:
            return []
        second = close_second(result, ordered, covered=True)
        return [s.id for s in ordered[:1]] + ([second.id] if second else [])

    close = next(q for q in questions if len(shown(q)) == 2)
    clear = next(q for q in questions if len(shown(q)) == 1)
    for user_id, question in ((2321, close), (2322, clear)):
        person = harness.person(user_id, "Sanne", "nl")
        await person.onboard("professional")
        await person.send(question)
        cards = [kb.snippets[s].text("nl").title for s in shown(question)]
        answer = await person.expect(cards[0])
        labels = [b["text"] for row in answer["buttons"] for b in row]
        assert any("helpt" in label for label in labels)
        if len(cards) == 2:
            lead = "Misschien past dit ook bij jouw situatie"
            text = answer["text"]
            assert text.index(cards[0]) < text.index(lead) < text.index(cards[1])
            assert not any(cards[1] in label for label in labels)
        else:
            assert "Misschien past dit ook" not in answer["text"]
        assert not await person.quiet()
