"""Whether a message names the desk's subject in so many words ("signalen", "radicaliseren",
"complot", "antisemitisme", "1488", ...): such a question is for this desk even when it is too
short or vague for the scope model to be sure, so the desk answers it with a card."""

from __future__ import annotations

import re

from knowledge.features import Tokens

# Word beginnings, folded (lowercase, no accents). Only words that hardly occur outside the
# desk's subject: not "is", "attack" or "terugtrekken", which have everyday meanings too.
_STEMS = (
    "radicali", "radicaal", "radicale", "radical", "extremis", "extreem", "extreme",
    "polaris", "complot", "conspira", "jihad", "salafi",
    "kalifaat", "caliphate", "isis", "terror", "aanslag", "haatzaai", "jodenhaat", "moslimhaat",
    "discrimin", "racis", "antisemit", "islamofob", "islamophob", "homofob", "homophob",
    "transfob", "transphob", "nazi", "neonazi", "hakenkruis", "swastika", "1488", "extreemrechts",
    "extreemlinks", "far-right", "alt-right", "incel", "manosphere", "propaganda", "nepnieuws",
    "desinformatie", "disinformation", "nikab", "niqab", "soevereinen", "sovereign citizen",
    "accelerationis", "anarchis", "vergas", "spreekko", "bedreig", "doodsbedreig", "threaten",
    "doxx", "doxing", "platform jep", "vraagbaak", "advieslijn",
)
_STEM_ALTERNATION = "|".join(re.escape(s) for s in _STEMS)
_SUBJECT = re.compile(r"(?<![\w-])(?:" + _STEM_ALTERNATION + ")")
# "IS" as the group, in the compounds people write ("IS-filmpjes", "IS-vlag", "IS-strijder"):
# capitals and a hyphen, which the everyday "is" never has.
_IS_COMPOUND = re.compile(r"(?<![\w-])IS-[^\W\d_]")
# The subject named only to rule it out: "geen racisme of zo, gewoon pesten", "niks met
# discriminatie te maken", "nothing to do with racism", "not extremism or anything". A negation
# word, at most three filler words (not "geen protocol voor radicalisering", which asks about
# the subject), then the subject word up to the next space.
_FILLERS = ("sprake", "van", "met", "te", "maken", "echt", "per", "se", "enkele", "about", "to",
            "do", "with", "really", "any", "a", "an", "sign", "signs", "teken", "of", "is")
_NEGATED = re.compile(
    r"(?<![\w-])(?:geen|niet|niets|niks|zonder|no|not|nothing|without|isn't|isnt)"
    r"(?:\s+(?:" + "|".join(_FILLERS) + r")){0,3}\s+(?:" + _STEM_ALTERNATION + r")[\w-]*")


def names_the_subject(text: str | Tokens) -> bool:
    """Whether the message names polarisation, radicalisation, extremism or hate (or the
    desk itself) in so many words, other than to say the question is not about it."""
    tokens = Tokens.of(text)
    return (_SUBJECT.search(_NEGATED.sub(" ", tokens.folded)) is not None
            or _IS_COMPOUND.search(tokens.text) is not None)


def without_ruled_out_subject(text: str | Tokens) -> Tokens:
    """The message without the places where it rules the subject out ("geen racisme of zo"),
    so that the scope model does not count those words for the desk; the message itself when
    it has none."""
    tokens = Tokens.of(text)
    kept = _NEGATED.sub(" ", tokens.folded)
    return tokens if kept == tokens.folded else Tokens(kept)
