"""Spots acute danger in a message: attack plans, weapons with intent, imminent departure to a
conflict zone, threats, self-harm, violence happening now. News-style mentions are not acute.

Rules over cue families rather than fixed sentences: danger is a violent act or weapon *and*
intent or imminence, or a departure *and* imminence, or self-harm, or violence happening now.
Sentences framed as news, teaching or the past are left out before the violence rule runs."""

from __future__ import annotations

import re

import numpy as np

from knowledge.features import LogisticModel, StackedTfidf, Tokens


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_DAYS = (r"(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|monday|tuesday|"
         r"wednesday|thursday|friday|saturday|sunday)")

# A short countdown ("over tien minuten", "in ten minutes", "binnen een uur").
_COUNT = r"(?:een|twee|drie|vier|vijf|tien|twintig|een paar|enkele|\d+)"
_COUNT_EN = r"(?:an|a|a few|one|two|three|five|ten|twenty|fifteen|thirty|\d+)"

IMMINENT = _rx(
    r"\b(?:morgen\w*|vanavond|vannacht|vandaag|vanmiddag|vanochtend|straks|zometeen|"
    r"zo meteen|nu meteen|direct|dit weekend|volgende week|"
    rf"(?:over|binnen) {_COUNT} (?:minuten|minuutjes|uur|dagen)|"
    r"binnenkort|nu)\b",
    r"\b(?:tomorrow|tmrw|tmr|tonight|today|this (?:evening|afternoon|morning|weekend)|"
    r"next week|right now|now|any minute|soon)\b",
    rf"\b(?:in|within) {_COUNT_EN} (?:minutes?|mins?|hours?|days?)\b",
    rf"\b{_DAYS}\b",
    r"\bom \d{1,2}(?:[.:]\d{2})? ?uur\b", r"\b\d{1,2}[.:]\d{2}\b",
    r"\bat \d{1,2}(?:[.:]\d{2})? ?(?:am|pm|o'?clock)\b",
)
WEAPON = _rx(
    r"\b(?:pistool|pistolen|geweer|geweren|jachtgeweer|vuurwapens?|wapens?|messen|mes|"
    r"bommen|bom|explosieven|kruit|granaat|machete|bijl|honkbalknuppel|knuppel|boksbeugel|"
    r"brandbom|molotov\w*|benzine|munitie|kogels?|stokken|ijzeren staven|slagwapens?)\b",
    r"\b(?:guns?|rifles?|pistols?|firearms?|weapons?|knife|knives|bombs?|explosives?|"
    r"grenades?|machete|axe|bat|crowbar|molotovs?|firebombs?|petrol|gasoline|ammo|"
    r"ammunition|bullets?|iron bars|metal bars)\b", r"\bwith (?:sticks|clubs|bats)\b",
)
VIOLENT_ACT = _rx(
    r"\b(?:steken|neersteken|steekt|schieten|neerschieten|doodschieten|schiet|vermoorden|"
    r"vermoordt|doden|doodt|doodmaken|afmaken|opblazen|aanvallen|valt aan|aanslag\w*|"
    r"afrekenen|afrekent|opruimen|op te ruimen|in brand steken|brand stichten|slachten|"
    r"straffen|bloedbad|in elkaar slaan|kapot(?:maken| maken)|gooien)\b",
    r"\b(?:stab|stabbing|shoot|shooting|shoot up|kill|killing|murder|attack|bomb|blow up|"
    r"firebomb|burn (?:down|it)|set fire|massacre|punish|hurt (?:them|him|her|people)|"
    r"make (?:them|him|her) pay|finish (?:them|him|her|it)|clean up|livestream|"
    r"manifesto)\b",
)
INTENT = _rx(
    r"\b(?:gaat|ga|gaan|wil|wilt|willen|zal|zullen|van plan|plant|plannen|plan|dreigt|"
    r"dreigde|afgesproken|afspreken|voorbereid\w*|klaar ?ligt|ligt klaar|geregeld|"
    r"komt|kom)\b",
    r"\b(?:will|'ll|ll|going to|gonna|plans?|planning|planned|wants? to|threaten\w*|"
    r"about to|intends?|ready|prepared|says he'?ll|says she'?ll|agreed to|arranged to)\b",
)
DESTINATION = _rx(
    r"\b(?:syrie|irak|turkije|istanbul|kalifaat|de strijd|strijders|het front|jihad|"
    r"de zusters|de broeders|daesh)\b",
    r"\b(?:syria|iraq|turkey|istanbul|caliphate|the fighters|join (?:the )?fighters|"
    r"the front|jihad|daesh|isis)\b",
    r"\bis\b(?= (?:aansluiten|te gaan|join))",
)
TRAVEL = _rx(
    r"\b(?:vertrekt|vertrekken|vertrek|uitreizen|uitreist|vliegt|vliegen|vlucht|reist|"
    r"afreizen|ticket\w*|tas (?:is )?(?:al )?ingepakt|paspoort is weg|niet terug ?komt|"
    r"gaan vechten|gaat vechten|aansluiten)\b",
    r"\b(?:flying|flight|fly|flies|leaving|leave|leaves|travel\w*|ticket\w*|bags? "
    r"(?:is |are )?(?:already )?packed|won'?t come back|join(?:ing)?)\b",
)
SELF_HARM = _rx(
    # A suicide bomber is an attacker, not someone at risk of self-harm.
    r"\b(?:zelfmoord(?!aanslag)\w*|suicid\w*(?! bomb)|zelfdoding)\b",
    r"\ber (?:\w+ ){0,2}een (?:eind|einde) aan (?:maken|maakt|te maken)\b",
    # The same with the verb first, as Dutch puts it after a time word ("vanavond maak ik er
    # een eind aan").
    r"\b(?:maak|maakt|maken) (?:ik|hij|ze|zij|we|jij) er (?:\w+ ){0,2}een (?:eind|einde) aan\b",
    r"\b(?:wil|wilt) (?:niet meer leven|dood)\b", r"\bniet meer (?:willen )?leven\b",
    # The verb between ("dat ze niet meer wil leven", "dat hij er niet meer wil zijn").
    r"\bniet meer (?:wil|wilt|wilde|wou) leven\b", r"\ber niet meer (?:wil|wilt|wilde|wou) zijn\b",
    r"\bzichzelf (?:iets )?(?:aan ?doen|aandoet|snijdt|gesneden|van kant|ophangen)\b",
    r"\b(?:pillen|medicijnen|tabletten) (?:\w+ ){0,3}(?:innemen|in ?nemen|slikken|sparen|"
    r"gespaard)\b",
    r"\b(?:overdosis|overdose)\b",
    r"\b(?:kill|killing|end|ending) (?:myself|herself|himself|themselves|my life|her life|"
    r"his life|their life|it all)\b",
    r"\b(?:take|taking|swallow) (?:them |all )?(?:all )?(?:my |her |his |their |the )?"
    r"(?:pills|meds|medication|tablets)\b",
    r"\bsaving (?:up )?(?:pills|meds|tablets)\b", r"\btake them all\b",
    r"\b(?:cut|cutting|hurt|hurting) (?:herself|himself|themselves|myself)\b",
    r"\bnobody would miss (?:me|her|him)\b", r"\bniemand (?:zou|zal) (?:me|haar|hem) missen\b",
)
PRESENT_THREAT = _rx(
    r"\bik weet waar (?:je|jij|u) woont\b(?=.*\b(?:vanavond|vannacht|nu|kom|komen)\b)",
    r"\bi know where you live\b(?=.*\b(?:tonight|now|coming)\b)",
    r"\b(?:staat|staan|is|zit|zijn)\b[^.!?]{0,40}\b(?:voor|bij|aan) (?:de|mijn|m'n|mn|onze) "
    r"(?:deur|huis|woning|voordeur)\b",
    r"\b(?:outside|at) (?:my|our|the) (?:house|home|door|front door|flat|building)\b",
)
VIOLENCE_NOW = _rx(
    r"\b(?:er is|is er|er wordt) nu (?:een )?(?:vechtpartij|gevecht|steekpartij|"
    r"schietpartij|gevochten|gestoken|geschoten)\b",
    r"\bnu (?:aan het )?(?:vechten|steken|schieten)\b",
    r"\b(?:mes|pistool|wapen) getrokken\b", r"\b(?:pulled|drew|pulling) a (?:knife|gun)\b",
    r"\b(?:fight|fighting|stabbing|shooting|attack|brawl) (?:is )?(?:going on|happening)"
    r"(?: right)?(?: now)?\b",
    r"\bthere'?s a (?:fight|stabbing|shooting) (?:going on )?right now\b",
)
# Someone has gone out armed ("met een bijl de deur uit", "left the house with a knife"):
# the weapon is on its way, whatever words name the intent.
_OUT = (r"(?:de deur uit|op pad|weggegaan|weg gegaan|vertrokken|naar buiten (?:gegaan|gelopen)|"
        r"left (?:the house|home)|went out|walked out|gone out|out the door|headed out)")
_ARMED = (r"(?:met|with) (?:een|a|an|zijn|z'n|zn|haar|his|her|their) (?:\w+ )?"
          r"(?:mes|messen|bijl|machete|pistool|geweer|vuurwapen|wapen|knuppel|honkbalknuppel|"
          r"knife|axe|gun|pistol|rifle|weapon|bat|crowbar)\b")
ARMED_OUT = _rx(rf"\b{_OUT}\b[^.!?]{{0,30}}\b{_ARMED}", rf"\b{_ARMED}[^.!?]{{0,30}}\b{_OUT}\b")
# Someone is there with a weapon now ("er staat nu een jongen op het terrein met een mes",
# "a boy is standing outside with a knife right now"), whatever he shouts.
# ("er loopt nu iemand met een mes", but not "nu lopen meer jongens met een mes": carrying one
# these days is a worry, not an emergency)
_HERE = (r"(?:staat|staan|er loopt|zit|rent|zwaait|stands?|is standing|is running|is waving|"
         r"is outside|is here)")
_NOW = r"(?:nu|op dit moment|right now|now|at the moment)"
ARMED_HERE = _rx(rf"\b{_NOW}\b[^.!?]{{0,40}}\b{_HERE}\b[^.!?]{{0,40}}\b{_ARMED}",
                 rf"\b{_HERE}\b[^.!?]{{0,20}}\b{_NOW}\b[^.!?]{{0,40}}\b{_ARMED}")
# Someone armed on their way to people now ("een groep met bivakmutsen loopt richting de tent,
# een heeft een honkbalknuppel", "ik zie een jongen met een jerrycan benzine naar de stand
# lopen", "a boy with a bat is walking towards the stage"): the weapon and the walk in one
# sentence, in the present; not a habit ("loopt elke dag met een mes naar school").
_TOWARD = (r"(?:(?:loopt|lopen|rent|rennen|fietst|fietsen|rijdt|rijden|marcheert|marcheren|"
           r"sluipt|stormt|stormen)\b[^.!?]{0,60}\b(?:richting|naar (?:de|het|onze|ons|die|dat|"
           r"een)\b|op (?:de|het|ons|onze|die|dat) \w+ af\b)|"
           r"(?:richting|naar) (?:de|het|onze|ons|die|dat|een)\b[^.!?]{0,60}\b(?:lopen|rennen|"
           r"fietsen|rijden|gaan)\b|"
           r"(?:walking|running|heading|marching|charging|moving|coming|storming) (?:\w+ ){0,2}?"
           r"(?:towards?|to|into|for|at)\b)")
ARMED_APPROACH = _rx(_TOWARD)
HABIT = _rx(r"\b(?:elke dag|iedere dag|vaak|altijd|soms|regelmatig|tegenwoordig|steeds vaker)\b",
            r"\b(?:every day|often|always|sometimes|regularly|usually|these days)\b")
# Something held back for the moment a place is full ("het ding in de auto ... bij het
# hoofdpodium als het vol is", "the stuff in the van, when it's packed"): a plan against a
# crowd that names neither weapon nor attack.
CROWD_MOMENT = _rx(
    r"\bals het (?:daar |er )?(?:\w+ )?(?:vol|volst|drukst|op zijn drukst) (?:is|zit|staat)\b",
    r"\bwhen it'?s (?:\w+ )?(?:packed|full|crowded|busiest|rammed)\b",
    r"\b(?:in|into) (?:de|the) (?:menigte|mensenmassa|crowd)\b",
    r"\bde (?:menigte|mensenmassa) in\b",
)
HELD_BACK = _rx(
    r"\b(?:het|dat|die) (?:ding|dingen|pakket|spul|spullen)\b", r"\bde (?:tas|koffer)\b",
    r"\bthe (?:thing|things|package|stuff|bag|device)\b",
)
# "He'll take everyone with him" (a death announced for many), said where people gather or
# against a group: not "iedereen meenemen naar de film".
TAKE_ALL = _rx(
    r"\b(?:iedereen|jullie allemaal|ze allemaal) (?:mee ?nemen|meeneemt|meeneem)\b(?! naar)",
    r"\b(?:neemt|neem|nemen) (?:hij |ik |ze |zij )?(?:iedereen|jullie allemaal|ze allemaal) "
    r"mee\b(?! naar)",
    r"\btak(?:e|es|ing) (?:everyone|everybody|you all|all of you|them all) "
    r"(?:with (?:him|me|her|them)|down with (?:him|me|her|them))\b",
)
GATHERING = _rx(
    r"\b(?:festival|podium|ingang|menigte|mensenmassa|stadion|concert|markt|rugzak|rugtas|"
    r"ongelovigen|kuffar|kafirs?|afvalligen)\b",
    r"\b(?:festival|stage|entrance|crowd|stadium|concert|market|backpack|rucksack|"
    r"unbelievers|infidels|kuffar|kafirs?|apostates)\b",
)
# A sentence about the news, a lesson or the past does not describe a plan.
NEWS = _rx(
    r"\b(?:in het nieuws|op het nieuws|het journaal|nieuwsbericht|besproken|bespreken|"
    r"bespraken|in de les over|les over|jaren geleden|jaar geleden|vorig jaar|vorige maand|"
    r"destijds|geschiedenisles|herdenking)\b",
    r"\b(?:in the news|on the news|news report|discussed|discuss|lesson (?:about|on)|"
    r"years ago|last year|last month|back in \d{4}|history lesson|commemoration)\b",
)
# The asker's own handling ("hoe ga ik morgen in de les om met …", "questions about the
# attack"): the verb is the professional's, not a plan, so it is blanked before intent is read.
ASKER = _rx(
    r"\bhoe (?:ga|gaan) (?:ik|we|wij|je|jij) (?:\w+ ){0,6}?om(?: met)?\b",
    r"\bom(?: ?gaan| te gaan) met\b",
    r"\b(?:vragen|reacties|emoties|gesprekken|gesprek|discussie|onrust|angst) (?:\w+ ){0,3}?"
    r"over (?:de|die|deze|het|dat) (?:aanslag|aanval|schietpartij|steekpartij|oorlog|"
    r"aanslagen)\b",
    r"\b(?:questions|reactions|emotions|conversations?|discussion|fears?) (?:\w+ ){0,3}?"
    r"(?:about|on) (?:the|that|this) (?:attack|shooting|stabbing|bombing|war|attacks)\b",
)
# Veiled announcements: read as plans even though they mention the news.
VEILED = _rx(
    r"\bwatch the news\b", r"\byou'?ll (?:see|read) (?:it |about it )?(?:on|in) the news\b",
    r"\bkijk (?:\w+ )?(?:maar )?(?:naar )?het (?:nieuws|journaal)\b",
    r"\bkomt in het nieuws\b", r"\blivestream volgt\b", r"\balles ligt klaar\b",
    r"\beverything is ready\b",
    # An end announced to a group ("in ten minutes it's over for all of you").
    r"\b(?:it'?s|it is|it will be|it'?ll be) (?:all )?over for (?:all of )?(?:you|y'?all|"
    r"everyone|everybody|them|all of them)\b",
    # (not "afgelopen met jullie gezeur": the end of the sentence must follow)
    r"\b(?:is het|het is|wordt het) (?:\w+ )?(?:afgelopen|gedaan|voorbij|klaar) met "
    r"(?:jullie|jou|iedereen)(?: allemaal)?(?=\s*(?:[.!?,;:'\"\u2019]|$))",
    r"\b(?:jullie|jij|ze) (?:zijn|bent|is) (?:er )?(?:allemaal )?geweest\b",
)
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")


class UrgencyModel(LogisticModel):
    """P(acute | text): a logistic model over words, word bigrams and character n-grams,
    trained on labelled example messages (knowledge.training). It catches phrasings the rules
    do not know; the threshold is set for recall on the training examples' own
    cross-validated scores."""

    def __init__(self, features: StackedTfidf, coef: np.ndarray, intercept: float,
                 threshold: float, sure: float | None = None) -> None:
        super().__init__(features, coef, intercept)
        self.threshold = threshold
        # Above this the model alone is as sure as a rule: half the acute training examples'
        # cross-validated scores lie above it. Between the two it raises a possible alarm.
        self.sure = threshold if sure is None else max(sure, threshold)


class UrgencyDetector:
    """Rules over cue families, or the learned model; recall matters most."""

    def __init__(self, model: UrgencyModel | None = None) -> None:
        self.model = model

    def reasons(self, text: str | Tokens) -> list[str]:
        """The cue groups that make this message acute (empty when it is not)."""
        tokens = Tokens.of(text)
        t = tokens.folded
        found = []
        plan = " ".join(s for s in _SENTENCE.split(t) if not NEWS.search(s))
        if SELF_HARM.search(plan):
            found.append("self_harm")
        if VIOLENCE_NOW.search(t):
            found.append("violence_now")
        if PRESENT_THREAT.search(t) and (WEAPON.search(t) or VIOLENT_ACT.search(t)
                                         or INTENT.search(t)):
            found.append("threat")
        if VEILED.search(t) and (WEAPON.search(t) or IMMINENT.search(t)):
            found.append("veiled_threat")
        plan = ASKER.sub(" ", plan)
        imminent = bool(IMMINENT.search(plan))
        if ARMED_OUT.search(plan):
            found.append("armed_out")
        if ARMED_HERE.search(plan):
            found.append("armed_here")
        if any(ARMED_APPROACH.search(sentence) and WEAPON.search(sentence)
               and not HABIT.search(sentence) for sentence in _SENTENCE.split(plan)):
            found.append("armed_approach")
        if DESTINATION.search(plan) and TRAVEL.search(plan) and imminent:
            found.append("departure")
        weapon, act = bool(WEAPON.search(plan)), bool(VIOLENT_ACT.search(plan))
        intent = bool(INTENT.search(plan))
        if (weapon or act) and ((intent and (imminent or (weapon and act)))
                                or (weapon and act and imminent)):
            found.append("violence_plan")
        if CROWD_MOMENT.search(plan) and (weapon or act or HELD_BACK.search(plan)):
            found.append("crowd_plan")
        if TAKE_ALL.search(plan) and GATHERING.search(plan):
            found.append("take_all")
        if self.model is not None and self.model.probability(tokens) >= self.model.threshold:
            found.append("model")
        return found

    def is_urgent(self, text: str | Tokens) -> bool:
        """Whether the message signals acute danger."""
        return bool(self.reasons(text))

    def sure(self, reasons: list[str], text: str | Tokens) -> bool:
        """Whether an alarm (its `reasons`) is certain: a rule found it, or the model alone
        with a score a rule would match. Otherwise it is a possible alarm: the desk still
        puts 112 first, and answers the question itself before "what to do now"."""
        if any(reason != "model" for reason in reasons):
            return True
        model = self.model
        return bool(reasons) and model is not None and model.probability(
            Tokens.of(text)) >= model.sure
