"""The handoff's fixed vocabularies: sectors, volunteer organisations, provinces, outcomes."""

from __future__ import annotations

import re
from enum import StrEnum


class Sector(StrEnum):
    """Where a professional works, or what kind of organisation a volunteer is with."""

    EDUCATION = "onderwijs"
    YOUTH_CARE = "jeugdhulp"
    SOCIAL_WORK = "welzijn"
    CHILD_PROTECTION = "jeugdbescherming"
    MENTAL_HEALTH = "ggz"
    POLICE = "politie"
    MUNICIPALITY = "gemeente"
    OTHER = "anders"
    # Volunteers are asked for their kind of organisation instead of a sector.
    VOLUNTEER = "vrijwilliger"  # other volunteer organisation
    SPORTS_CLUB = "sportclub"
    FAITH = "geloofsgemeenschap"
    SELF_ORGANISATION = "zelforganisatie"


PROFESSIONAL_SECTORS: tuple[Sector, ...] = (
    Sector.EDUCATION, Sector.YOUTH_CARE, Sector.SOCIAL_WORK, Sector.CHILD_PROTECTION,
    Sector.MENTAL_HEALTH, Sector.POLICE, Sector.MUNICIPALITY, Sector.OTHER,
)
VOLUNTEER_SECTORS: tuple[Sector, ...] = (
    Sector.SPORTS_CLUB, Sector.FAITH, Sector.SELF_ORGANISATION, Sector.VOLUNTEER,
)


class Province(StrEnum):
    """The twelve provinces, plus national / other."""

    GRONINGEN = "Groningen"
    FRYSLAN = "Fryslân"
    DRENTHE = "Drenthe"
    OVERIJSSEL = "Overijssel"
    FLEVOLAND = "Flevoland"
    GELDERLAND = "Gelderland"
    UTRECHT = "Utrecht"
    NOORD_HOLLAND = "Noord-Holland"
    ZUID_HOLLAND = "Zuid-Holland"
    ZEELAND = "Zeeland"
    NOORD_BRABANT = "Noord-Brabant"
    LIMBURG = "Limburg"
    NATIONAL = "landelijk"


class Outcome(StrEnum):
    """How a conversation ended, as stored in the summary."""

    ADVICE = "advice"
    REFERRED = "referred"
    FOLLOWUP = "followup"
    IDLE = "idle"  # closed by the desk after a long silence
    UNSUMMARISED = "unsummarised"  # the asker ended it and the expert gave no summary in time


EXPERT_OUTCOMES: tuple[Outcome, ...] = (Outcome.ADVICE, Outcome.REFERRED, Outcome.FOLLOWUP)

_TICKET_ID = re.compile(r"[A-Za-z0-9_-]{8,32}")
_USER_ID = re.compile(r"[0-9]{1,19}")


def parse_ticket_id(text: str) -> str | None:
    """A ticket id from callback data, or None if it cannot be one."""
    return text if _TICKET_ID.fullmatch(text) else None


def parse_user_id(text: str) -> int | None:
    """A Telegram id written in ASCII digits only (not '٥٠٠٢' or '²'), else None."""
    return int(text) if _USER_ID.fullmatch(text) else None
