"""The ten fixed topics of the desk."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    """Topic ids; the order is the order shown to users."""

    SIGNALS = "signals"
    INFORMATION_SHARING = "information_sharing"
    POLARISATION = "polarisation"
    CONVERSATION = "conversation"
    COLLABORATION = "collaboration"
    FAMILY = "family"
    ONLINE = "online"
    IDEOLOGIES = "ideologies"
    EXPERTISE = "expertise"
    PROFESSIONAL_SUPPORT = "professional_support"


LANGS = ("nl", "en")
