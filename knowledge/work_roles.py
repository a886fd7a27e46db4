"""Who someone says they are at work ("ik ben wijkagent", "as a therapist"): the desk then
prefers guidance written for that role and keeps advice meant for others away from them (a
police officer is never told to call the police)."""

from __future__ import annotations

import re

from knowledge.base import WorkRole
from knowledge.features import Tokens

# Roles set in a place where many kinds of people work (a school, a club, a mosque, a youth
# centre, a care home), as against professions of few (police, GGZ, leerplicht, municipality).
PLACE_ROLES = frozenset({WorkRole.SCHOOL, WorkRole.SPORTS_CLUB, WorkRole.FAITH_COMMUNITY,
                         WorkRole.YOUTH_WORK, WorkRole.YOUTH_CARE})

# Self-descriptions only: "ik ben", "als", "ik werk bij/in/als", "i'm a", "as a", "i work in",
# so that a teacher who mentions the community police officer is not taken for one.
_SELF_NL = r"(?:ik ben (?:een |de )?|als |ik werk (?:als |bij |in |voor )(?:de |het |een )?)"
_SELF_EN = r"(?:i'?m (?:a |an |the )?|i am (?:a |an |the )?|as (?:a |an |the )?|" \
           r"i work (?:as (?:a |an )?|in |for |at )(?:the |a )?)"
# Per role: the words for a person who has it ("wijkagent", "teacher"), which also sign a
# message at its start; and the words that count only after a self-description: where or how
# they work ("politie", "jeugdzorg", "bestuurslid van de club") and person words too ambiguous
# to sign with ("agent", "juf", "meester"). Either language's
# word after either language's opening: "I'm a leerplichtambtenaar".
_WORDS: dict[WorkRole, tuple[str, str]] = {
    WorkRole.POLICE: (r"wijkagent|politieagent|jeugdagent|community police officer|"
                      r"police officer|police youth officer|youth police officer|"
                      r"neighbourhood officer",
                      r"agent|politieman|politievrouw|politie|cop|police"),
    # Compounds too: "gymdocent", "groepsleerkracht", "docente", "pabo-stagiaire".
    WorkRole.SCHOOL: (r"\w*docente?|\w*leraar|\w*lerares|\w*leerkracht|mentor|"
                      r"zorgcoordinator|schoolleider|conrector|intern begeleider|rector|"
                      r"teacher|head teacher|school counsellor",
                      r"pabo-stagiaire|juf|meester|directeur van een school|school teacher|"
                      r"care coordinator at a school"),
    WorkRole.ATTENDANCE_OFFICER: (r"leerplichtambtenaar|attendance officer",
                                  r"leerplicht|school attendance officer"),
    WorkRole.YOUTH_WORK: (r"jongerenwerker|straatwerker|jeugdwerker|youth worker|street worker",
                          r"jongerenwerk|detached youth worker"),
    WorkRole.YOUTH_CARE: (r"jeugdhulpverlener|gezinsvoogd|jeugdbeschermer|groepsleider|"
                          r"groepswerker|pleegzorgbegeleider|wijkcoach|youth care worker|"
                          r"family guardian|group worker",
                          r"jeugdzorg|jeugdhulp|medewerker (?:van het|in het|bij het) wijkteam|"
                          r"youth care|social worker in youth care|child protection worker|"
                          r"foster care worker"),
    WorkRole.MENTAL_HEALTH: (r"psycholoog|psychiater|therapeut|orthopedagoog|ggz-medewerker|"
                             r"gz-psycholoog|ggz-verpleegkundige|ggz verpleegkundige|"
                             r"ggz-behandelaar|ggz-hulpverlener|sociaal psychiatrisch "
                             r"verpleegkundige|psychologist|psychiatrist|therapist|"
                             r"mental health worker|mental health nurse|psychiatric nurse|"
                             r"ggz nurse|ggz worker",
                             r"ggz|jeugd-ggz|jeugdggz|mental health|clinician"),
    WorkRole.MUNICIPALITY: (r"beleidsmedewerker|beleidsadviseur|ambtenaar|wethouder|"
                            r"procesregisseur|jeugdconsulent|radicaliseringsadviseur|"
                            r"policy officer|policy adviser|council officer",
                            r"gemeente|"
                            r"(?:medewerker|adviseur|ambtenaar) openbare orde(?: en veiligheid)?|"
                            r"(?:adviseur|ambtenaar|coordinator) radicalisering|"
                            r"radicaliseringsambtenaar|municipality|local government|"
                            r"case director|municipal case manager|"
                            r"public order (?:and safety )?(?:officer|adviser)|"
                            r"radicali[sz]ation (?:adviser|advisor|officer|coordinator)"),
    # A youth club (jongerenclub, youth club) is youth work, not sport.
    WorkRole.SPORTS_CLUB: (r"trainer|jeugdtrainer|scheidsrechter|coach|referee",
                           r"bestuurslid van (?:de|een|onze) (?!jongeren)\w*club|"
                           r"vrijwilliger bij (?:de|een|onze) (?!jongeren)\w*club|"
                           r"voorzitter van (?:de|een|onze) (?!jongeren)\w*(?:club|vereniging)|"
                           r"volunteer coach|board member of (?:a|our) \w* ?club|"
                           r"(?:chair|chairman|chairwoman) of (?:a|our|the) (?!youth)\w* ?club"),
    WorkRole.FAITH_COMMUNITY: (r"imam|dominee|pastor|priest",
                               r"moskeebestuur|bestuurslid van (?:de|een|onze) moskee|"
                               r"jeugdleider (?:in|van|bij) (?:de|een|onze) "
                               r"(?:kerk|gemeente|moskee)|mosque board member|"
                               r"youth leader at (?:a|our|the) (?:church|mosque)"),
}
# One word may stand between: "ik ben ervaren docent", "I'm a history teacher".
_SAID = {role: rf"\b(?:{_SELF_NL}|{_SELF_EN})(?:[\w-]+ )?(?:{persons}|{others})\b"
         for role, (persons, others) in _WORDS.items()}
# Said with a verb instead: "ik train de JO15", "I coach our under-14s".
_SAID[WorkRole.SPORTS_CLUB] += (r"|\bik (?:train|coach) (?:de|het|een|onze|mijn)\b"
                                r"|\bi (?:coach|train) (?:a|the|our|my)\b")

# Or signed at the start, as people open a chat: "Wijkagent hier.", "Docent geschiedenis,
# Amsterdam-West.", "jongerenwerker in zuid.", "Municipal policy officer in Zaanstad.". Only
# words for a person, not for an organisation ("Politie belde me, ..." is not a police
# officer; "Gemeente Utrecht heeft ..." is not a civil servant), and at most two words
# between the role and the sign-off ("Leerkracht groep 8 hier.").
# English roles may have a word or two in front ("municipal policy officer"); not an article
# or a possessive ("The police officer said, ...", "My mentor at school ..."). Between the
# role and the sign-off a qualifier ("geschiedenis", "groep 8"), never a verb or a pronoun
# ("Wijkagent belde me, ...", "Coach said: ..."). A place ("jongerenwerker in zuid") signs off
# a role set in a place only: "Wijkagent bij ons op school ..." is someone else's officer.
_NOT_QUALIFIERS = (r"(?:zei|zegt|zeggen|belde|belt|vroeg|vraagt|kwam|komt|heeft|had|hebben|is|"
                   r"was|wil|wilde|gaf|geeft|kreeg|stuurde|meldde|sprak|praat|denkt|vindt|ziet|"
                   r"zag|me|mij|ons|hem|haar|hen|jou|je|u|said|says|called|calls|asked|asks|"
                   r"told|tells|came|has|wants|wanted|sent|thinks|saw|us|him|her|them|you)")
_SIGNED = {role: (
    rf"^(?!(?:the|a|an|my|our|his|her|their|de|het|een|mijn|onze|ons|zijn|haar)\b)"
    rf"(?:[\w-]+ ){{0,2}}?(?:{persons})(?: (?!{_NOT_QUALIFIERS}\b)[\w-]+){{0,2}}?"
    rf"(?: hier\b| here\b|[,.:;(]"
    rf"{'| (?:in|bij|op|uit|aan|at|from|with) ' if role in PLACE_ROLES else ''})")
    for role, (persons, _) in _WORDS.items()}
# One search per role: said outright, or signed at the start.
_PATTERNS = {role: re.compile(f"{_SAID[role]}|{_SIGNED[role]}") for role in _WORDS}

# Or said by where they work: "een leerling in mijn klas", "mijn spelers", "onze moskee".
_PLACES: dict[WorkRole, str] = {
    WorkRole.SCHOOL: (r"\bmijn (?:klas|mentorklas|brugklas|leerlingen|leerling|mentorleerling|"
                      r"mentorleerlingen|lessen|les)\b|\bop onze school\b|"
                      r"\bop (?:ons|onze) (?:mbo|roc|vmbo|lyceum|college|basisschool|"
                      r"middelbare school|hogeschool)\b|"
                      r"\bbij ons op (?:het|de) (?:mbo|roc|school)\b|"
                      r"\bmy (?:class|classroom|pupils?|students?|form group|lessons?)\b|"
                      r"\bat our (?:school|mbo|college|vocational college|primary school|"
                      r"secondary school|high school)\b"),
    WorkRole.SPORTS_CLUB: (r"\bmijn (?:spelers|elftal|selectie|jo\d+|mo\d+)\b|"
                           r"\b(?:bij|in|van) onze (?!jongeren)\w*club\b|"
                           r"\bmy (?:players|squad)\b|"
                           r"\b(?:at|in) our (?!youth)(?:\w+ )?club\b"),
    WorkRole.YOUTH_WORK: (r"\b(?:ons|het) (?:jongerencentrum|buurthuis|jongerenhonk)\b|"
                          r"\b(?:bij|in|van) (?:de|een|onze) jongerenclub\b|"
                          r"\b(?:at|in) (?:a|the|our) (?:youth centre|youth center|youth club)\b|"
                          r"\bour (?:youth centre|youth center|youth club)\b|"
                          r"\bi run (?:a|the) (?:\w+ )?(?:youth centre|youth center|youth club|"
                          r"community centre|community center)\b|"
                          r"\bik (?:run|leid|beheer) (?:een|het|ons) (?:\w+ )?(?:jongerencentrum|"
                          r"buurthuis|jongerenhonk)\b"),
    WorkRole.FAITH_COMMUNITY: (r"\b(?:bestuur van|in|bij) (?:de|een|onze) (?:moskee|kerk)\b|"
                               r"\bonze (?:moskee|kerk|gemeenschap)\b|"
                               r"\b(?:our|the) (?:mosque|church)(?:'s)? board\b|"
                               r"\bour (?:mosque|church)\b"),
}
_PLACE_PATTERNS = {role: re.compile(place) for role, place in _PLACES.items()}


def work_roles(text: str | Tokens) -> frozenset[WorkRole]:
    """The work roles the writer names for themselves (usually none or one)."""
    folded = Tokens.of(text).folded  # the message's folded text, made once for every model
    return frozenset(role for role, pattern in _PATTERNS.items() if pattern.search(folded))


def work_places(text: str | Tokens) -> frozenset[WorkRole]:
    """The roles whose workplace the writer speaks of as theirs ("mijn klas", "onze moskee"):
    guidance set there fits them, though they did not say who they are."""
    folded = Tokens.of(text).folded
    return frozenset(role for role, pattern in _PLACE_PATTERNS.items()
                     if pattern.search(folded))
