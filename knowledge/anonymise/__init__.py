"""Remove identifying data from Dutch and English advice-desk text before it is stored.

Detectors (contact, numbers, dates, places, institutions, names) each return spans; the
pipeline merges overlapping spans and replaces them with typed placeholders such as [NAAM]."""

from knowledge.anonymise.pipeline import Anonymiser
from knowledge.anonymise.spans import PLACEHOLDERS

__all__ = ["PLACEHOLDERS", "Anonymiser"]
