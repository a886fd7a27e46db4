"""Stored codes in words, in the reader's language: sectors, provinces, outcomes, roles and
languages. The one place the bot's messages and the dashboard turn a code into a word."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from handoff.users import Role
from handoff.vocab import Outcome, Province, Sector
from knowledge.base import WorkRole
from locales import N_, translator

SECTOR_LABELS: dict[str, str] = {
    Sector.EDUCATION: N_("Education"), Sector.YOUTH_CARE: N_("Youth care"),
    Sector.SOCIAL_WORK: N_("Youth and social work"),
    Sector.CHILD_PROTECTION: N_("Child protection"),
    Sector.MENTAL_HEALTH: N_("Mental health care"),
    Sector.POLICE: N_("Police"), Sector.MUNICIPALITY: N_("Municipality"),
    Sector.OTHER: N_("Other"), Sector.VOLUNTEER: N_("Other volunteer organisation"),
    Sector.SPORTS_CLUB: N_("Sports club"), Sector.FAITH: N_("Mosque, church or other faith "
                                                            "community"),
    Sector.SELF_ORGANISATION: N_("Self-organisation or community group"),
}
OUTCOME_LABELS: dict[str, str] = {
    Outcome.ADVICE: N_("Advice given"), Outcome.REFERRED: N_("Referred to another organisation"),
    Outcome.FOLLOWUP: N_("Follow-up needed"),
    Outcome.IDLE: N_("Closed after a long silence"),
    Outcome.UNSUMMARISED: N_("Ended by the asker, no summary"),
}
ROLE_LABELS: dict[str, str] = {
    Role.PROFESSIONAL: N_("Professional"), Role.VOLUNTEER: N_("Volunteer"),
}
# The work roles a card can be written for (knowledge.work_roles reads them from a question:
# "ik ben wijkagent"), as the editor names them.
WORK_ROLE_LABELS: dict[str, str] = {
    WorkRole.POLICE: N_("Police (community police officer)"),
    WorkRole.SCHOOL: N_("School (teacher, mentor, school leader)"),
    WorkRole.ATTENDANCE_OFFICER: N_("Attendance officer"),
    WorkRole.YOUTH_WORK: N_("Youth work"),
    WorkRole.YOUTH_CARE: N_("Youth care"),
    WorkRole.MENTAL_HEALTH: N_("Mental health care (GGZ)"),
    WorkRole.MUNICIPALITY: N_("Municipality"),
    WorkRole.SPORTS_CLUB: N_("Sports club (trainer, coach, board)"),
    WorkRole.FAITH_COMMUNITY: N_("Faith community (imam, pastor, board)"),
}
# Each language in its own name, as language pickers do.
LANGUAGE_NAMES: dict[str, str] = {"nl": "Nederlands", "en": "English"}


class Vocabulary:
    """Codes as words for one reader; an unknown code is shown as it is."""

    def __init__(self, locale: str) -> None:
        self.tr = translator(locale)

    def _label(self, labels: Mapping[str, str], code: str) -> str:
        label = labels.get(code)
        return self.tr._(label) if label else code

    def sector(self, code: str) -> str:
        """A sector or kind of volunteer organisation."""
        return self._label(SECTOR_LABELS, code)

    def region(self, code: str) -> str:
        """A province, or 'national / other'."""
        return self.tr._("National / other") if code == Province.NATIONAL else code

    def outcome(self, code: str) -> str:
        """How a conversation ended."""
        return self._label(OUTCOME_LABELS, code)

    def role(self, code: str) -> str:
        """An asker's role."""
        return self._label(ROLE_LABELS, code)

    def work_role(self, code: str) -> str:
        """A work role a card is written for."""
        return self._label(WORK_ROLE_LABELS, code)

    def language(self, code: str) -> str:
        """A language, in its own name."""
        return LANGUAGE_NAMES.get(code, code)

    def expertise(self, tags: Iterable[str], topics: Mapping[str, str]) -> str:
        """An expert's expertise tags in words: a topic (`topics`: id -> label) or a sector
        by its label, any other tag as written."""
        words = [topics.get(tag) or self.sector(tag) for tag in tags]
        return ", ".join(words) if words else self.tr._("no specialism given")
