"""Who the writer is at work, said outright ("ik ben docent") or by their workplace ("mijn
klas", "onze moskee"), and what the ranking does with it: a card set in a school reaches a
teacher who only says "mijn klas"; a card for police officers reaches no one else."""

from __future__ import annotations

import pytest

from knowledge.base import WorkRole
from knowledge.triage import Triage
from knowledge.work_roles import work_places, work_roles


@pytest.mark.parametrize(("text", "roles", "places"), [
    ("Ik ben wijkagent in Utrecht-Oost", {WorkRole.POLICE}, set()),
    ("Ik ben nieuw als jeugdconsulent en moet aanschuiven", {WorkRole.MUNICIPALITY}, set()),
    ("Als procesregisseur maak ik het plan", {WorkRole.MUNICIPALITY}, set()),
    ("Als radicaliseringsadviseur van een kleine gemeente krijg ik", {WorkRole.MUNICIPALITY},
     set()),
    ("ik werk als adviseur radicalisering en moet nazorg regelen", {WorkRole.MUNICIPALITY},
     set()),
    ("I'm the radicalisation officer for our town", {WorkRole.MUNICIPALITY}, set()),
    ("Als voorzitter van een hockeyclub kreeg ik screenshots", {WorkRole.SPORTS_CLUB}, set()),
    ("I'm a group worker in a residential unit", {WorkRole.YOUTH_CARE}, set()),
    ("Ik ben gz-psycholoog bij een instelling", {WorkRole.MENTAL_HEALTH}, set()),
    # GGZ nurses sign with their ward's name in front (a fifteenth practice set's GGZ nurse
    # was told about a card for somebody else).
    ("GGZ nurse. A client told me in a session", {WorkRole.MENTAL_HEALTH}, set()),
    ("ik ben sociaal psychiatrisch verpleegkundige, geldt", {WorkRole.MENTAL_HEALTH}, set()),
    ("GGZ-behandelaar. Een cliënt vertelde", {WorkRole.MENTAL_HEALTH}, set()),
    ("Community mental health nurse. A client called", {WorkRole.MENTAL_HEALTH}, set()),
    ("ik ben ervaren docent op een vmbo", {WorkRole.SCHOOL}, set()),
    ("Als jeugdtrainer zie ik het elke week", {WorkRole.SPORTS_CLUB}, set()),
    ("een leerling in mijn klas (3 havo) zegt", set(), {WorkRole.SCHOOL}),
    ("two of my players keep chanting", set(), {WorkRole.SPORTS_CLUB}),
    ("Wij zijn het bestuur van een moskee", set(), {WorkRole.FAITH_COMMUNITY}),
    ("In ons jongerencentrum wordt gescholden", set(), {WorkRole.YOUTH_WORK}),
    # A youth club is youth work, not sport.
    ("Ik ben vrijwilliger bij een jongerenclub", set(), {WorkRole.YOUTH_WORK}),
    ("I volunteer at our youth club", set(), {WorkRole.YOUTH_WORK}),
    ("I run a volunteer youth centre in Deventer", set(), {WorkRole.YOUTH_WORK}),
    ("ik leid een buurthuis in Zwolle", set(), {WorkRole.YOUTH_WORK}),
    # Compounds name the role too.
    ("Ik ben gymdocent op een vmbo en", {WorkRole.SCHOOL}, set()),
    ("ik werk als groepsleerkracht in Zwolle", {WorkRole.SCHOOL}, set()),
    ("Ik ben pabo-stagiaire in groep 7", {WorkRole.SCHOOL}, set()),
    # Mentioning someone else's role or place is not the writer's own.
    ("de wijkagent vroeg of ik namen wil geven", set(), set()),
    ("mijn zoon wordt op zijn school gepest", set(), set()),
    ("Mijn mentor zei: laat het los.", set(), set()),
    ("Wijkagent belde me, hij wil een gesprek", set(), set()),
    # Either language's word after either language's opening.
    ("I'm a leerplichtambtenaar. Parents of a 9-year-old", {WorkRole.ATTENDANCE_OFFICER}, set()),
    # Signed at the start, as people open a chat.
    ("wijkagent hier (Zaandam). Er gaat een lijst rond", {WorkRole.POLICE}, set()),
    ("Docent geschiedenis, Amsterdam-West. Na elke nieuwsgebeurtenis", {WorkRole.SCHOOL}, set()),
    ("Leerkracht groep 8 hier. Een jongen van 11", {WorkRole.SCHOOL}, set()),
    ("jongerenwerker in zuid. veel van mijn jongens", {WorkRole.YOUTH_WORK}, set()),
    ("Municipal policy officer here. A mosque was vandalised", {WorkRole.MUNICIPALITY}, set()),
    ("police youth officer here. a secondary school in our area", {WorkRole.POLICE}, set()),
    # ... but not an organisation, someone else's officer, or a verb after the role.
    ("Politie belde me, wat moet ik doen", set(), set()),
    ("De wijkagent belde me, wat nu", set(), set()),
    ("Wijkagent zei: kom maar langs", set(), set()),
    ("Wijkagent bij ons op school zei dat het meevalt", set(), set()),
    ("The police officer said, we will look into it", set(), set()),
    ("Gemeente Utrecht heeft, zo lees ik, een meldpunt", set(), set()),
    ("Coach said: stop it", set(), set()),
    # Their own school by its kind: mbo, roc, college, primary school (session 17).
    ("Op ons mbo in Ede roepen jongens 'homo' in de gang", set(), {WorkRole.SCHOOL}),
    ("Bij ons op het roc heeft zich een jongen aangemeld", set(), {WorkRole.SCHOOL}),
    ("Op onze mbo-campus gaan studenten op de vuist", set(), {WorkRole.SCHOOL}),
    ("Two groups of students fought at our vocational college", set(), {WorkRole.SCHOOL}),
    ("A 17-year-old will start at our mbo after detention", set(), {WorkRole.SCHOOL}),
    ("Racism at our primary school, how to tackle it", set(), {WorkRole.SCHOOL}),
    ("He met our college friends at a party", set(), set()),
])
def test_roles_and_places_the_writer_names(text: str, roles: set[WorkRole],
                                           places: set[WorkRole]) -> None:
    assert work_roles(text) == roles
    assert work_places(text) == places


@pytest.mark.timeout(120)
def test_a_card_set_in_a_school_reaches_a_teacher_who_only_says_my_class(
        triage: Triage) -> None:
    text = ("twee jongens in mijn klas noemen een meisje met een hoofddoek steeds 'terrorist'. "
            "de rest lacht. hoe zet ik hier een grens?")
    assert triage.triage(text, "nl", "professional").snippets[0] == \
        "polarisation-bullied-terrorist"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("text", [
    "ik ken onze wijkagent eigenlijk niet, moet dat wel?",
    "moet ik de wijkagent bellen als een leerling rare dingen zegt over aanslagen?",
])
def test_the_police_officers_card_reaches_no_one_else(triage: Triage, text: str) -> None:
    assert "collaboration-role-police-officer" not in triage.triage(text, "nl").snippets[:1]
