"""The knowledge and trained triage the desk answers with, replaced whole on a publication.

Readers take `current` once per question: the knowledge and its triage always come as one
pair, so a question in flight is answered by the old or the new version, never a mix."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.base import KnowledgeBase
from knowledge.triage import Triage


@dataclass(frozen=True, slots=True)
class Version:
    """One published state of the knowledge, with the triage trained on it."""

    kb: KnowledgeBase
    triage: Triage
    generation: int = 0  # publications it includes (0: the seed files only)
    trained: bool = True  # False while the triage's models are still the previous ones


class LiveKnowledge:
    """Holds the current Version; `swap` replaces it in one assignment."""

    def __init__(self, kb: KnowledgeBase, triage: Triage, generation: int = 0) -> None:
        self.current = Version(kb, triage, generation)

    def swap(self, kb: KnowledgeBase, triage: Triage, generation: int,
             trained: bool = True) -> None:
        """Serve a newly loaded version from now on."""
        self.current = Version(kb, triage, generation, trained)

    @property
    def kb(self) -> KnowledgeBase:
        """The current knowledge base."""
        return self.current.kb

    @property
    def triage(self) -> Triage:
        """The current triage."""
        return self.current.triage
