"""Spots acute danger in a message: attack plans, weapons, imminent departure, threats,
self-harm, violence happening now. News-style mentions are not acute."""

from __future__ import annotations

import re

from knowledge.text import fold


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_DAYS = (r"(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|monday|tuesday|"
         r"wednesday|thursday|friday|saturday|sunday)")

IMMINENT = _rx(
    r"\b(?:morgen\w*|vanavond|vannacht|vandaag|vanmiddag|straks|zometeen|zo meteen|nu meteen|"
    r"dit weekend|volgende week|over een uur|binnenkort)\b",
    r"\b(?:tomorrow|tmrw|tmr|tonight|today|this (?:evening|afternoon|weekend)|next week|"
    r"in an hour|right now|any minute)\b",
    rf"\b(?:op |aanstaande |a\.s\. |on |this |next )?{_DAYS}\b",
    r"\bom \d{1,2}(?:[.:]\d{2})? ?uur\b", r"\bat \d{1,2}(?:[.:]\d{2})? ?(?:am|pm|o'?clock)?\b",
)
WEAPON = _rx(
    r"\b(?:pistool|pistolen|geweer|geweren|jachtgeweer|vuurwapens?|wapens?|messen|mes|"
    r"bom|bommen|explosieven|kruit|vuurwerkbom|granaat|machete|bijl)\b",
    r"\b(?:guns?|rifles?|pistols?|firearms?|weapons?|knife|knives|bombs?|explosives?|"
    r"grenades?|machete|axe|ammo|ammunition)\b",
)
VIOLENT_INTENT = _rx(
    r"\b(?:gaat|ga|gaan|wil|wilt|willen|zal|zullen|komt|kom)\b[^.!?]{0,60}?\b(?:steken|neersteken|"
    r"schieten|neerschieten|doodschieten|vermoorden|doodmaken|afmaken|opblazen|aanvallen|"
    r"afrekenen|straffen|pakken|in elkaar slaan|aanslag plegen)\b",
    r"\b(?:afrekent|afrekenen|opblazen|aanslag (?:plegen|plannen|voorbereiden|beramen))\b",
    r"\bmet (?:een|zijn|haar) (?:bom|mes|pistool|geweer|wapen)\b[^.!?]{0,40}\bnaar\b",
    r"\b(?:gonna|going to|will|wants? to|plans? to|planning to|about to)\b[^.!?]{0,50}?\b(?:shoot|"
    r"stab|kill|bomb|blow up|attack|hurt|punish|deal with|get (?:him|her|them))\b",
    r"\bshoot up\b", r"\b(?:kill list|hit list|list of (?:classmates|people|names|students))\b",
    r"\b(?:watch the news|livestream volgt|alles ligt klaar|everything is ready)\b",
)
DEPARTURE = _rx(
    r"\b(?:vertrekt|vertrek|vertrekken|uitreizen|uitreist|vliegt|vliegen|reist|afreizen|"
    r"gaat vechten|gaan vechten|aansluiten)\b[^.!?]{0,80}?\b(?:syrie|irak|turkije|istanbul|"
    r"strijders|kalifaat|is\b|de zusters|de broeders|jihad|front)",
    r"\b(?:flying|flight|fly|leaving|leave|travel+ing|going|heading|cross)\b[^.!?]{0,80}?\b(?:"
    r"syria|iraq|turkey|istanbul|caliphate|fighters|jihad|the front|join (?:a|the) group|"
    r"join fighters|abroad)",
    r"\b(?:join|joining) (?:fighters|isis|is|the fight|a group) abroad\b",
)
DEPARTURE_SIGNS = _rx(
    r"\bticket\w* (?:is )?(?:al )?(?:geboekt|gekocht|besteld)\b", r"\bpaspoort is weg\b",
    r"\btas (?:is )?(?:al )?ingepakt\b", r"\b(?:ticket|flight) (?:is )?(?:already )?booked\b",
    r"\bbags? (?:is |are )?(?:already )?packed\b", r"\bflight leaves\b",
)
SELF_HARM = _rx(
    r"\b(?:zelfmoord|suicide|suicidaal|suicidal)\b",
    r"\ber (?:vanavond |vannacht |morgen |vandaag )?een (?:eind|einde) aan (?:maken|maakt|te maken)\b",
    r"\b(?:wil|wilt) (?:niet meer leven|dood)\b", r"\bniet meer (?:willen )?leven\b",
    r"\bzichzelf (?:iets )?(?:aan ?doen|aandoet|snijdt|gesneden|van kant)\b",
    r"\balle (?:pillen|medicijnen) (?:in ?nemen|innemen|slikken)\b",
    r"\b(?:kill|killing|end|ending) (?:myself|herself|himself|themselves|my life|her life|his life|"
    r"their life|it all)\b",
    r"\b(?:take|taking|swallow) all (?:my|her|his|their|the) (?:pills|meds|medication)\b",
    r"\b(?:cut|cutting|hurt|hurting) (?:herself|himself|themselves|myself)\b",
    r"\bnobody would miss (?:me|her|him)\b", r"\bniemand (?:zou|zal) (?:me|haar|hem) missen\b",
)
THREAT_NOW = _rx(
    r"\bik weet waar (?:je|jij|u) woont\b", r"\bi know where you live\b",
    r"\b(?:staat|is|zit)\b[^.!?]{0,30}\b(?:voor|bij) (?:mijn|m'n|mn) (?:huis|deur|woning)\b",
    r"\b(?:outside|at) (?:my|our) (?:house|home|door|flat)\b",
    r"\b(?:dreigt|dreigde|bedreigt) (?:nu |net )?(?:me |mij |haar |hem )?(?:te )?(?:vermoorden|"
    r"doden|neer te steken|dood te maken)\b",
    r"\b(?:threatens?|threatened|threatening) to (?:kill|stab|shoot|hurt)\b",
    r"\b(?:death threat|doodsbedreiging)\b[^.!?]{0,40}\b(?:net|just|now|nu|vandaag|today)\b",
    r"\bgoing to ['‘]?pay['’]?\b", r"\bgaat ['‘]?boeten['’]?\b",
)
VIOLENCE_NOW = _rx(
    r"\b(?:er is|is er) nu (?:een )?(?:vechtpartij|gevecht|steekpartij|schietpartij)\b",
    r"\bnu (?:aan het )?(?:vechten|steken|schieten)\b",
    r"\b(?:mes|pistool|wapen) getrokken\b", r"\b(?:pulled|drew|pulling) a (?:knife|gun)\b",
    r"\b(?:fight|fighting|stabbing|shooting|attack) (?:is )?(?:going on|happening) "
    r"(?:right )?now\b",
    r"\bthere'?s a (?:fight|stabbing|shooting) (?:going on )?right now\b",
    r"\bwordt nu (?:gevochten|gestoken|geschoten)\b",
)
# News, teaching and the past: a weapon word there is not a plan.
NEWS = _rx(
    r"\b(?:in het nieuws|op het nieuws|het journaal|nieuwsbericht|besproken|bespreken|"
    r"bespraken|in de les|lesvoorbereiding|jaren geleden|vorig jaar|vorige maand|destijds|"
    r"geschiedenisles|herdenking)\b",
    r"\b(?:in the news|on the news|news report|discussed|discuss|lesson about|years ago|"
    r"last year|last month|back in \d{4}|history lesson|commemoration)\b",
    r"\b(?:na de aanslag|sinds de aanslag|after the attack|since the attack)\b",
)


class UrgencyDetector:
    """Rules over cue groups; recall matters most, so any strong cue is enough."""

    def reasons(self, text: str) -> list[str]:
        """The cue groups that make this message acute (empty when it is not)."""
        t = fold(text)
        found = []
        if SELF_HARM.search(t):
            found.append("self_harm")
        if THREAT_NOW.search(t):
            found.append("threat")
        if VIOLENCE_NOW.search(t):
            found.append("violence_now")
        imminent = bool(IMMINENT.search(t))
        if (DEPARTURE.search(t) and (imminent or DEPARTURE_SIGNS.search(t))) or (DEPARTURE_SIGNS.search(t) and imminent):
            found.append("departure")
        weapon, intent = bool(WEAPON.search(t)), bool(VIOLENT_INTENT.search(t))
        news = bool(NEWS.search(t))
        if (intent and (weapon or imminent) and not news) or (intent and weapon and imminent):
            found.append("violence_plan")
        return found

    def is_urgent(self, text: str) -> bool:
        """Whether the message signals acute danger."""
        return bool(self.reasons(text))
