"""Ranks every snippet for a question, across all topics.

A linear model learned from each snippet's example questions (knowledge/data/snippet_examples),
its title and its answer scores them; the topic classifier's probabilities add a prior that
reorders but never cuts the list; the reader's role is a preference, not a filter."""

from __future__ import annotations

import numpy as np

from knowledge.base import Audience, KnowledgeBase, Snippet
from knowledge.features import SparseRow
from knowledge.topics import Topic

TEMPERATURE = 0.1  # margins are divided by this before the prior is added (log scale)
PRIOR_WEIGHT = 0.6  # weight of log P(snippet's topics) in the score
SECONDARY_PRIOR = 0.3  # share of a secondary topic's probability in a snippet's prior
PRIOR_FLOOR = 1e-3  # a topic the classifier rules out still lets a strong snippet through
AUDIENCE_BONUS = 1.0  # a snippet written for the reader's role (e.g. volunteer) moves up
AUDIENCE_PENALTY = 3.0  # a snippet written for the other role moves down, but stays listed


class SparseWeights:
    """A features x outputs weight matrix in compressed sparse rows (plain numpy arrays):
    the pruned snippet model is ~7 % dense, so a message gathers only its columns' rows."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                 outputs: int) -> None:
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.outputs = outputs

    def times(self, row: SparseRow) -> np.ndarray:
        """The row times this matrix: one value per output."""
        starts = self.indptr[row.cols]
        lengths = self.indptr[row.cols + 1] - starts
        # The positions of every stored weight in the row's columns, run after run.
        ends = np.cumsum(lengths)
        at = np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - ends + lengths,
                                                                 lengths)
        return np.bincount(self.indices[at], weights=self.data[at] * np.repeat(row.vals, lengths),
                           minlength=self.outputs)


class SnippetRanker:
    """Scores all snippets for one message's feature row (a linear model trained in
    knowledge.training on each snippet's example questions, title and answer)."""

    def __init__(self, kb: KnowledgeBase, snippet_ids: list[str], weights: SparseWeights,
                 intercept: np.ndarray) -> None:
        self.weights = weights
        self.intercept = intercept
        self.snippets: list[Snippet] = [kb.snippets[sid] for sid in snippet_ids]
        topics = list(Topic)
        # prior = topic probabilities @ share: each snippet's primary and secondary topics.
        self.share = np.zeros((len(topics), len(self.snippets)), dtype=np.float64)
        for j, snippet in enumerate(self.snippets):
            for i, topic in enumerate(snippet.topics):
                self.share[topics.index(topic), j] += 1.0 if i == 0 else SECONDARY_PRIOR
        self.topics = topics
        self.audiences = np.array([s.audience.value for s in self.snippets])

    def scores(self, vector: SparseRow, topics: dict[Topic, float],
               audience: str | None = None) -> np.ndarray:
        """A log-scale score per snippet (in self.snippets order); higher is better."""
        margins = self.weights.times(vector) + self.intercept
        probs = np.array([topics.get(t, 0.0) for t in self.topics])
        prior = np.log(probs @ self.share + PRIOR_FLOOR)
        score = margins / TEMPERATURE + PRIOR_WEIGHT * prior
        if audience in (Audience.VOLUNTEER, Audience.PROFESSIONAL):
            own = str(audience)
            other = "professional" if own == "volunteer" else "volunteer"
            score = (score + AUDIENCE_BONUS * (self.audiences == own)
                     - AUDIENCE_PENALTY * (self.audiences == other))
        return score

    def rank(self, vector: SparseRow, topics: dict[Topic, float],
             audience: str | None = None, limit: int | None = None) -> list[Snippet]:
        """Snippets from every topic, best first, for a message's feature vector and topic
        probabilities; `audience` (a role) is a preference."""
        score = self.scores(vector, topics, audience)
        order = np.argsort(-score, kind="stable")
        return [self.snippets[i] for i in order[:limit]]
