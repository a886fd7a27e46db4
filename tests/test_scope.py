"""Knowing what the desk does not know: questions without a fitting card get "I don't have
ready-made guidance for this", the advice line, an expert and the two nearest cards; questions
with a fitting card get their card; acute danger always gets the 112 block and its card."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.subject import names_the_subject
from knowledge.triage import SCOPE_THRESHOLD, Triage
from tests.sandbox_client import DeskHarness, Person

DATA = Path(__file__).parent / "data"
# Goals of issue 18: abstain on at most 5 % of questions that have a fitting card, on at
# least 90 % of questions outside the desk's knowledge.
MAX_ABSTAIN_COVERED = 0.05
MIN_ABSTAIN_OUTSIDE = 0.90




def covered_questions() -> list[tuple[str, str | None]]:
    """Questions the knowledge has a card for: the ranking set, the practice set and the
    topic sets (development and holdout)."""
    ranking = yaml.safe_load((DATA / "snippet_eval.yaml").read_text(encoding="utf-8"))
    practice = yaml.safe_load((DATA / "practice_eval.yaml").read_text(encoding="utf-8"))
    topics = [json.loads(line) for name in ("triage_dev.jsonl", "triage_holdout.jsonl")
              for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line]
    return ([(r["q"], r["lang"]) for r in ranking["questions"]]
            + [(r["question"], r["lang"]) for r in practice]
            + [(r["text"], r.get("lang")) for r in topics])


def abstains(triage: Triage, text: str, lang: str | None) -> bool:
    """What the desk does: says it has no card (acute danger always gets the 112 block)."""
    result = triage.triage(text, lang)
    return not result.urgent and not result.covered


@pytest.mark.timeout(300)
def test_abstention_on_the_labelled_sets(triage: Triage) -> None:
    covered = [(q, lang) for q, lang in covered_questions()
               if not triage.triage(q, lang).urgent]
    outside = yaml.safe_load((DATA / "out_of_scope.yaml").read_text(encoding="utf-8"))
    abstain_covered = sum(abstains(triage, q, lang) for q, lang in covered)
    abstain = {kind: [abstains(triage, r["question"], r["lang"])
                      for r in outside if r["kind"] == kind] for kind in ("unrelated", "near")}
    everything = abstain["unrelated"] + abstain["near"]
    outside_rate = sum(everything) / len(everything)
    report = (f"threshold {SCOPE_THRESHOLD}: abstains on {abstain_covered}/{len(covered)} "
              f"covered questions ({abstain_covered / len(covered):.3f}); on "
              f"{sum(everything)}/{len(everything)} outside ({outside_rate:.3f}:"
              f" unrelated {sum(abstain['unrelated'])}/{len(abstain['unrelated'])}, near "
              f"{sum(abstain['near'])}/{len(abstain['near'])})")
    print(report)
    assert abstain_covered / len(covered) <= MAX_ABSTAIN_COVERED, report
    assert outside_rate >= MIN_ABSTAIN_OUTSIDE, report


@pytest.mark.timeout(300)
def test_a_few_more_examples_do_not_swing_the_scope_model(kb: KnowledgeBase) -> None:
    """Adding examples must not flip questions elsewhere across the threshold: solved only to
    lbfgs's default tolerance (until session 14), the scope model moved P(covered) of practice
    questions by up to 0.17 when nine examples were added to three cards, and well-answered
    questions went to "no card"; this batch moved them by 0.057 then, by 0.006 now."""
    from knowledge.features import Tokens
    from knowledge.training import train_scope

    fewer = copy.copy(kb)
    # The last example of every fortieth card, as a batch of new examples would add them.
    cards = sorted(card for card, by_lang in kb.snippet_examples.items() if by_lang.get("nl"))
    fewer.snippet_examples = {
        card: {lang: (texts[:-1] if lang == "nl" and card in cards[::40] else texts)
               for lang, texts in by_lang.items()}
        for card, by_lang in kb.snippet_examples.items()}
    assert sum(len(t) for b in fewer.snippet_examples.values() for t in b.values()) == sum(
        len(t) for b in kb.snippet_examples.values() for t in b.values()) - len(cards[::40])
    with_all, without = train_scope(kb), train_scope(fewer)
    assert with_all is not None and without is not None
    questions = [Tokens(q) for q, _ in covered_questions()]
    swing = max(abs(with_all.probability(q) - without.probability(q)) for q in questions)
    assert swing < 0.05, swing


def test_the_training_questions_are_not_the_evaluation_questions(kb: KnowledgeBase) -> None:
    outside = yaml.safe_load((DATA / "out_of_scope.yaml").read_text(encoding="utf-8"))
    written_apart = {r["question"].strip().lower() for r in outside}
    assert kb.out_of_scope
    assert not written_apart & {q.strip().lower() for q in kb.out_of_scope}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"office_hours": "always"})


async def asking(harness: DeskHarness, user_id: int, question: str) -> Person:
    """A professional who has just sent `question`."""
    user = harness.person(user_id, "Sanne", "nl")
    await user.onboard("professional")
    await user.send(question)
    return user


async def test_no_fitting_card_is_said_plainly(harness: DeskHarness) -> None:
    user = await asking(harness, 5101, "Hoe vraag ik bij de gemeente subsidie aan voor nieuwe "
                                       "doelen en ballen voor onze voetbalclub?")
    answer = await user.expect("kant-en-klaar handvat")
    assert "070-333 45 58" in answer["text"] and "Onderwerp:" not in answer["text"]
    labels = [b["text"] for row in answer["buttons"] for b in row]
    assert sum(label.startswith("➕") for label in labels) == 2
    assert "Spreek een expert" in labels
    assert not [label for label in labels if "Dit helpt" in label]  # nothing to vote on
    # The nearest card opens as usual, and the expert is one press away.
    await user.press(answer, answer["buttons"][0][0]["data"])
    assert "Volgende stap" in (await user.expect("Volgende stap"))["text"]
    await user.press_label(answer, "Spreek een expert")
    await user.expect("1/3")


async def test_a_covered_question_gets_its_card(harness: DeskHarness) -> None:
    user = await asking(harness, 5102, "Bij onze voetbalclub zongen spelers over joden die "
                                       "vergast moeten worden. Wat moet ik als trainer doen?")
    answer = await user.expect("Onderwerp:")
    assert "kant-en-klaar" not in answer["text"]


async def test_acute_danger_always_gets_112_and_its_card(harness: DeskHarness) -> None:
    user = await asking(harness, 5103, "hij staat nu voor de deur met een mes")
    await user.expect("112")
    card = await user.expect("Onderwerp:")
    assert "kant-en-klaar" not in card["text"]


@pytest.mark.parametrize(("text", "named"), [
    ("Mijn leerling Jamal van het Calvijn College kijkt IS-filmpjes, wat nu?", True),
    ("een IS-vlag als profielfoto", True),
    ("Het is-gevoel van de groep", False),
    ("THIS IS A QUESTION about the canteen", False),
    ("is dat erg?", False),
])
def test_the_group_is_named_in_its_compounds_not_the_verb(text: str, named: bool) -> None:
    assert names_the_subject(text) is named


@pytest.mark.parametrize(("text", "named"), [
    ("Een jongen wordt gepest omdat hij stil is. Geen racisme of zo, gewoon pesten.", False),
    ("Het heeft niks met discriminatie te maken, ze vinden haar gewoon raar", False),
    ("It has nothing to do with racism, he is just small", False),
    ("Onze school heeft geen protocol voor radicalisering. Waar begin ik?", True),
    ("De club zegt dat het geen racisme is, maar ze riepen apengeluiden. Is dat racisme?", True),
    ("not extremism, but he does talk about jihad a lot", True),
])
def test_the_subject_ruled_out_in_so_many_words_does_not_count(text: str, named: bool) -> None:
    assert names_the_subject(text) is named


def test_a_question_that_rules_the_subject_out_gets_no_card(triage: Triage) -> None:
    # The words that rule the subject out do not count for the scope model either.
    result = triage.triage("Een jongen in groep 5 wordt uitgelachen omdat hij slecht kan lezen. "
                           "Geen racisme of zo, gewoon pesten. Heb je tips?", "nl")
    assert not result.urgent and not result.covered
