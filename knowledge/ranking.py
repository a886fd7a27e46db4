"""Ranks every snippet for a question, across all topics.

A linear model learns from each snippet's example questions (knowledge/data/snippet_examples),
its title and its answer; the topic classifier's probabilities add a prior that reorders but
never cuts the list; the reader's role is a preference, not a filter."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from knowledge.base import Audience, KnowledgeBase, Snippet
from knowledge.topics import LANGS, Topic

C_SVM = 0.5
TEMPERATURE = 0.1  # margins are divided by this before the prior is added (log scale)
PRIOR_WEIGHT = 0.6  # weight of log P(snippet's topics) in the score
SECONDARY_PRIOR = 0.3  # share of a secondary topic's probability in a snippet's prior
PRIOR_FLOOR = 1e-3  # a topic the classifier rules out still lets a strong snippet through
AUDIENCE_BONUS = 1.0  # a snippet written for the reader's role (e.g. volunteer) moves up
AUDIENCE_PENALTY = 3.0  # a snippet written for the other role moves down, but stays listed
PRUNE = 0.01  # weights smaller than this are dropped: a sparse model, a fraction of the RAM


def training_texts(kb: KnowledgeBase) -> tuple[list[str], list[str]]:
    """(text, snippet id) pairs: example questions, titles and answers in both languages."""
    texts: list[str] = []
    labels: list[str] = []
    for snippet in kb.snippets.values():
        examples = kb.snippet_examples.get(snippet.id, {})
        for lang in LANGS:
            text = snippet.text(lang)
            for item in (*examples.get(lang, ()), text.title, text.answer):
                texts.append(item)
                labels.append(snippet.id)
    return texts, labels


class SnippetRanker:
    """Scores all snippets for one message's feature vector."""

    def __init__(self, kb: KnowledgeBase, matrix: sp.csr_matrix) -> None:
        """Train on `matrix`, the feature rows of training_texts(kb) in that order."""
        _, labels = training_texts(kb)
        model = LinearSVC(C=C_SVM)
        with threadpool_limits(1):
            model.fit(matrix, labels)
        coef = np.where(np.abs(model.coef_) >= PRUNE, model.coef_, 0.0)
        self.weights = sp.csr_matrix(coef.T.astype(np.float32))
        self.intercept = model.intercept_.astype(np.float32)
        self.snippets: list[Snippet] = [kb.snippets[sid] for sid in model.classes_]
        topics = list(Topic)
        # prior = topic probabilities @ share: each snippet's primary and secondary topics.
        self.share = np.zeros((len(topics), len(self.snippets)), dtype=np.float64)
        for j, snippet in enumerate(self.snippets):
            for i, topic in enumerate(snippet.topics):
                self.share[topics.index(topic), j] += 1.0 if i == 0 else SECONDARY_PRIOR
        self.topics = topics
        self.audiences = np.array([s.audience.value for s in self.snippets])

    def scores(self, vector: sp.csr_matrix, topics: dict[Topic, float],
               audience: str | None = None) -> np.ndarray:
        """A log-scale score per snippet (in self.snippets order); higher is better."""
        margins = (vector @ self.weights).toarray().ravel() + self.intercept
        probs = np.array([topics.get(t, 0.0) for t in self.topics])
        prior = np.log(probs @ self.share + PRIOR_FLOOR)
        score = margins / TEMPERATURE + PRIOR_WEIGHT * prior
        if audience in (Audience.VOLUNTEER, Audience.PROFESSIONAL):
            own = str(audience)
            other = "professional" if own == "volunteer" else "volunteer"
            score = (score + AUDIENCE_BONUS * (self.audiences == own)
                     - AUDIENCE_PENALTY * (self.audiences == other))
        return score

    def rank(self, vector: sp.csr_matrix, topics: dict[Topic, float],
             audience: str | None = None, limit: int | None = None) -> list[Snippet]:
        """Snippets from every topic, best first, for a message's feature vector and topic
        probabilities; `audience` (a role) is a preference."""
        score = self.scores(vector, topics, audience)
        order = np.argsort(-score, kind="stable")
        return [self.snippets[i] for i in order[:limit]]
