"""Triage on the labelled development set: topic accuracy, urgency, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from knowledge.topics import Topic
from knowledge.triage import Triage
from tests.trained import seed

DEV = Path(__file__).parent / "data" / "triage_dev.jsonl"



def test_development_set_accuracy(triage: Triage) -> None:
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    assert len(rows) >= 200
    top1 = top3 = missed_acute = false_alarms = 0
    non_acute = sum(1 for r in rows if not r["acute"])
    for row in rows:
        result = triage.triage(row["text"], row["lang"])
        ranked = [t.value for t, _ in result.topics]
        top1 += ranked[0] == row["topic"]
        top3 += row["topic"] in ranked[:3]
        missed_acute += row["acute"] and not result.urgent
        false_alarms += (not row["acute"]) and result.urgent
    n = len(rows)
    report = (f"top-1 {top1 / n:.3f}, top-3 {top3 / n:.3f}, acute missed {missed_acute}, "
              f"false alarms {false_alarms}/{non_acute} on {n} questions")
    print(report)
    # Floors below the targets (top-1 0.90, top-3 0.98): they catch regressions.
    assert top1 / n >= 0.88, report
    assert top3 / n >= 0.97, report
    assert missed_acute == 0, report
    assert false_alarms / non_acute <= 0.03, report


@pytest.mark.parametrize("text", [
    "hij zegt dat hij morgen naar syrie vertrekt, ticket al geboekt",
    "my student says he will shoot his classmates tomorrow, he has his father's gun",
    "ze appte dat ze er vanavond een eind aan maakt",
    "hij stuurde net: ik kan niet meer, vanavond maak ik er een eind aan",
    "there is a fight going on right now and someone pulled a knife",
])
def test_acute_messages_are_flagged(triage: Triage, text: str) -> None:
    assert triage.triage(text).urgent


@pytest.mark.parametrize("text", [
    "we bespraken de aanslag in Parijs in de klas, hoe ga ik om met reacties?",
    "a pupil asked why people join IS, how do I answer?",
    "zijn broer is jaren geleden naar Syrië vertrokken",
])
def test_news_style_mentions_are_not_acute(triage: Triage, text: str) -> None:
    assert not triage.triage(text).urgent


@pytest.mark.parametrize("text", [
    "meisje van 17 heeft al haar vriendinnen laten vallen",
    "ze trekt zich terug en praat niet meer met haar vriendinnen",
    "hoe ga ik morgen in de les om met vragen over de aanslag",
    "We kijken de film Paradise Now over zelfmoordaanslagplegers, hoe bespreek ik die?",
])
def test_withdrawal_and_questions_about_news_are_signals_not_acute(triage: Triage,
                                                                   text: str) -> None:
    assert triage.urgency.reasons(text) == []


@pytest.mark.parametrize("text", [
    "hoe ga ik om met een leerling die zegt dat hij morgen de school gaat opblazen",
    "leerling stelt vragen over de aanslag en zegt dat hij er morgen zelf een gaat plegen met "
    "het geweer van zijn vader",
])
def test_asker_framing_does_not_hide_a_plan(triage: Triage, text: str) -> None:
    assert triage.urgency.is_urgent(text)


def test_language_detection_overrides_a_wrong_setting(triage: Triage) -> None:
    result = triage.triage("How do I talk with a student who believes conspiracy theories?",
                           "nl")
    assert result.lang == "en"
    assert triage.triage("hoi", "en").lang == "en"


@pytest.mark.parametrize(("text", "hint"), [
    ("My colleague Sarah and I run a youth club in Utrecht.", "en"),
    ("The mentor contacted Veilig Thuis and the GGZ after the incident.", "en"),
    ("Algoritmes en radicalisering, hoe zit dat nou?", "nl"),
])
def test_function_words_of_the_set_language_keep_it(triage: Triage, text: str,
                                                    hint: str) -> None:
    """Dutch place and service names do not make an English question Dutch (the detector
    alone got these wrong, with high confidence)."""
    assert triage.detect_language(text, hint) == hint


def test_cli_answers_each_line(tmp_path: Path) -> None:
    lines = [{"text": "Mag ik informatie delen met de wijkagent?", "lang": "nl"},
             {"text": "what is accelerationism"}]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n"
    seed(tmp_path / "data")  # the run's training, as a desk that ran there would have left it
    env = {**os.environ, "VRAAGBAAK_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "triage"], input=stdin, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 3 and "error" in out[2]
    for item in out[:2]:
        assert [t["id"] for t in item["topics"]] != [] and len(item["topics"]) == 10
        assert {t["id"] for t in item["topics"]} == {t.value for t in Topic}
        scores = [t["score"] for t in item["topics"]]
        assert scores == sorted(scores, reverse=True)
        assert item["snippets"] and item["urgent"] is False
    assert out[0]["topics"][0]["id"] == "information_sharing" and out[0]["lang"] == "nl"
    assert out[1]["topics"][0]["id"] == "ideologies" and out[1]["lang"] == "en"


# urgency_practice: 200 practitioner questions written apart from the training examples (and
# never used to tune them), many with alarm words in a calm context.
@pytest.mark.parametrize("name", ["triage_holdout", "urgency_fresh", "urgency_practice"])
def test_urgency_on_sets_written_apart(triage: Triage, name: str) -> None:
    rows = [json.loads(line) for line in (DEV.parent / f"{name}.jsonl").read_text().splitlines()
            if line.strip()]
    acute = [r for r in rows if r["acute"]]
    calm = [r for r in rows if not r["acute"]]
    missed = sum(not triage.urgency.is_urgent(r["text"]) for r in acute)
    alarms = sum(triage.urgency.is_urgent(r["text"]) for r in calm)
    report = f"{name}: acute missed {missed}/{len(acute)}, false alarms {alarms}/{len(calm)}"
    print(report)
    assert missed == 0, report
    # urgency_fresh's calm half is deliberately hard (news, lessons, past threats, games).
    assert alarms / len(calm) <= {"urgency_fresh": 0.12, "urgency_practice": 0.04}.get(
        name, 0.03), report


# Every question marked acute in the practice sets (written by helpers apart from the urgency
# examples and rules) gets the 112 block, whatever else the desk answers.
PRACTICE_SETS = ["practice_eval", "practice_heldout", "practice_fresh", "practice_fresh3",
                 "practice_fresh4", "practice_fresh5", "practice_fresh6", "practice_fresh7",
                 "practice_fresh8", "practice_fresh9", "practice_fresh10",
                 "practice_fresh11", "practice_fresh12", "practice_fresh13",
                 "practice_fresh14", "practice_fresh15", "practice_fresh16",
                 "practice_fresh17", "practice_fresh18", "practice_fresh19",
                 "practice_fresh20", "practice_fresh21", "practice_fresh22",
                 "practice_fresh23", "practice_fresh24", "practice_fresh25",
                 "practice_fresh26", "practice_fresh27"]


@pytest.mark.parametrize("name", PRACTICE_SETS)
def test_every_acute_practice_question_gets_112(triage: Triage, name: str) -> None:
    rows = yaml.safe_load((DEV.parent / f"{name}.yaml").read_text())
    acute = [r for r in rows if r["acute"]]
    missed = [r["id"] for r in acute
              if not triage.triage(r["question"], r["lang"], r["role"]).urgent]
    assert acute and missed == [], f"{name}: acute questions without 112: {missed}"


@pytest.mark.parametrize("text", [
    "de vader vertelt dat zijn zoon vanochtend met een bijl de deur uit is gegaan om 'de "
    "verrader' te pakken",
    "my nephew just left the house with a knife, saying he'd sort out the guy",
    "ze is met een mes naar buiten gegaan en zei dat ze hem gaat vinden",
])
def test_someone_who_went_out_armed_is_acute(triage: Triage, text: str) -> None:
    assert "armed_out" in triage.urgency.reasons(text)


@pytest.mark.parametrize("text", [
    "hij is met zijn fiets de deur uit gegaan en kwam pas laat terug",
    "Vorig jaar is hij met een mes de deur uit gegaan; nu gaat het beter. Hoe praat ik erover?",
    "in de geschiedenisles bespraken we hoe soldaten met een geweer op pad gingen",
])
def test_going_out_without_a_weapon_or_in_the_past_is_not_armed_out(triage: Triage,
                                                                     text: str) -> None:
    assert "armed_out" not in triage.urgency.reasons(text)


@pytest.mark.parametrize("text", [
    "de jongens uit de wijk spreken in de app af om vanavond met stokken naar de buurt van hun "
    "rivalen te gaan",
    "they agreed to go to the rally tonight with iron bars",
    "a group of lads is going to the festival later today with sticks to teach them a lesson",
])
def test_a_plan_with_sticks_or_bars_for_tonight_is_acute(triage: Triage, text: str) -> None:
    """Sticks and bars are weapons when a group plans to take them somewhere now (a sixth
    practice set's acute question got no 112 block: the rules knew clubs, not sticks)."""
    assert "violence_plan" in triage.urgency.reasons(text)


@pytest.mark.parametrize("text", [
    "ik wil een stok achter de deur als hij morgen weer niet komt",
    "de kinderen knutselden vandaag met stokken en bladeren voor de herfsttafel",
])
def test_sticks_without_a_plan_of_violence_are_not_acute(triage: Triage, text: str) -> None:
    assert "violence_plan" not in triage.urgency.reasons(text)


# Rules for acute moments that name no plan in so many words, each added after a practice set's
# acute question got no 112 block: (rule, text, whether the rule fires).
RULE_CASES = [
    # crowd_plan (eleventh set): something held back for when a place is full.
    ("crowd_plan", "op het festival hoorde ik twee jongens over 'het ding in de auto' en 'bij "
     "het podium als het vol is'", True),
    ("crowd_plan", "overheard two lads: the stuff is in the van, they'll go in when it's packed",
     True),
    ("crowd_plan", "hij zei dat hij met dat pakket de menigte in loopt", True),
    ("crowd_plan", "als het vol is in het buurthuis lopen de spanningen op tussen twee groepen",
     False),
    ("crowd_plan", "when it's packed at the youth centre the boys start arguing about politics",
     False),
    ("crowd_plan", "ik verloor mijn tas in de drukte van de kermis", False),
    # take_all (sixteenth set): a death announced for many where people gather or against a
    # group; not taking everyone somewhere.
    ("take_all", "ik sta als vrijwilliger bij de ingang van een festival, een jongen met een "
     "rugzak schreeuwt over 'ongelovigen' en zegt dat hij 'iedereen meeneemt'", True),
    ("take_all", "he said he will take everyone with him at the concert tonight", True),
    ("take_all", "de trainer neemt iedereen mee naar het stadion", False),
    ("take_all", "hij zegt dat hij iedereen meeneemt naar het festival als de ouders betalen",
     False),
    ("take_all", "mijn buurman zegt dat hij iedereen meeneemt, hij is somber", False),
    # armed_here (seventeenth set): a weapon on the spot now, whatever is shouted; not carrying
    # one these days.
    ("armed_here", "Ik ben vrijwilliger bij een voetbalclub. Er staat nu een jongen op het "
     "terrein met een mes en hij schreeuwt dingen over ongelovigen. Kinderen zijn aan het "
     "trainen.", True),
    ("armed_here", "a boy is standing outside the gym right now with a knife", True),
    ("armed_here", "er loopt nu een man met een bijl over het schoolplein", True),
    ("armed_here", "hij loopt tegenwoordig met een mes op zak, wat nu?", False),
    ("armed_here", "Nu lopen meer jongens met een mes voor de bescherming. Hoe doorbreken we "
     "dat?", False),
    ("armed_here", "nu ik erover nadenk: hij stond vorig jaar met een mes in de klas", False),
    # armed_approach (twenty-first and twenty-third sets): armed and on the way to people, in
    # the present, though "nu" is never said; not a habit, not the past, not without a weapon.
    ("armed_approach", "Vrijwilliger op een festival: een groep jongens met bivakmutsen loopt "
     "richting de tent met de regenboogvlag, een heeft een honkbalknuppel. Wat moet ik doen?",
     True),
    ("armed_approach", "Ik zie een jongen met een jerrycan benzine naar de stand van de "
     "LHBTI-organisatie lopen, hij filmt zichzelf.", True),
    ("armed_approach", "a lad with a machete is walking towards the mosque entrance", True),
    ("armed_approach", "hij loopt elke dag met een mes naar school", False),
    ("armed_approach", "hij liep vorige week met een knuppel naar het veld", False),
    ("armed_approach", "de jongeren lopen met spandoeken richting het stadhuis", False),
    # self_harm with the verb in between (twenty-second set: "dat ze ... niet meer wil leven"
    # got no 112 block and no word about help); not wanting to go to school is not that.
    ("self_harm", "Een meisje van 15 vertelde me dat ze zich al weken somber voelt en niet "
     "meer wil leven. Wat doe ik?", True),
    ("self_harm", "hij zegt soms dat hij er niet meer wil zijn", True),
    ("self_harm", "hij wil niet meer naar school en zit alleen op zijn kamer", False),
    ("self_harm", "ze wil niet meer leven zonder haar telefoon, zegt ze lachend", True),
]


@pytest.mark.parametrize(("rule", "text", "fires"), RULE_CASES)
def test_acute_rules_fire_on_their_moments_only(triage: Triage, rule: str, text: str,
                                                fires: bool) -> None:
    assert (rule in triage.urgency.reasons(text)) is fires


@pytest.mark.parametrize("text", [
    "volunteer at a festival. guy near the main stage keeps touching his backpack and told a "
    "girl 'in ten minutes it's over for all of you'. security is far away",
    "hij zei tegen de groep: over tien minuten is het afgelopen met jullie!",
    "he posted 'livestreaming in 30 min' with a photo of a rifle and our school",
])
def test_a_countdown_to_an_end_or_a_weapon_is_acute(triage: Triage, text: str) -> None:
    """An end announced to a group within minutes, without a weapon or an attack named (a
    thirteenth practice set's acute question got no 112 block)."""
    assert triage.urgency.reasons(text)
    assert triage.urgency.sure(triage.urgency.reasons(text), text)


@pytest.mark.parametrize("text", [
    "ik zei: het is nu afgelopen met jullie gezeur, ga zitten",
    "the season is over for you, sorry, your knee needs rest",
    "over vijf minuten begint de les; hoe ga ik om met hun vragen over de oorlog?",
    "hoe laat gaat de laatste trein naar Groningen vanavond",
])
def test_an_end_or_a_time_without_a_threat_is_not_acute(triage: Triage, text: str) -> None:
    assert not triage.urgency.reasons(text)


def test_holdout_topic_accuracy(triage: Triage) -> None:
    rows = [json.loads(line) for line in (DEV.parent / "triage_holdout.jsonl").read_text()
            .splitlines() if line.strip()]
    ranked = [([t.value for t, _ in triage.triage(r["text"], r["lang"]).topics], r["topic"])
              for r in rows]
    top1 = sum(topics[0] == topic for topics, topic in ranked)
    top3 = sum(topic in topics[:3] for topics, topic in ranked)
    report = f"holdout: top-1 {top1 / len(rows):.3f}, top-3 {top3 / len(rows):.3f}"
    print(report)
    assert top1 / len(rows) >= 0.85 and top3 / len(rows) >= 0.96, report
