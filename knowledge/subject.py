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
_SUBJECT = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(s) for s in _STEMS) + ")")
# "IS" as the group, in the compounds people write ("IS-filmpjes", "IS-vlag", "IS-strijder"):
# capitals and a hyphen, which the everyday "is" never has.
_IS_COMPOUND = re.compile(r"(?<![\w-])IS-[^\W\d_]")


def names_the_subject(text: str | Tokens) -> bool:
    """Whether the message names polarisation, radicalisation, extremism or hate (or the
    desk itself) in so many words."""
    tokens = Tokens.of(text)
    return (_SUBJECT.search(tokens.folded) is not None
            or _IS_COMPOUND.search(tokens.text) is not None)
