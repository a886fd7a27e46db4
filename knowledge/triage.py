"""Triage of a free-text question: language, urgency, the ten topics and the best snippets."""

from __future__ import annotations

import copy
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from knowledge.base import KnowledgeBase, Snippet
from knowledge.features import LogisticModel, SparseRow, StackedTfidf, Tokens
from knowledge.lexical import CardIndex, bm25_weights
from knowledge.ranking import SnippetRanker
from knowledge.subject import names_the_subject, without_ruled_out_subject
from knowledge.text import STOPWORDS, stems
from knowledge.topics import LANGS, Topic
from knowledge.urgency import UrgencyDetector, UrgencyModel
from knowledge.work_roles import work_places, work_roles

# Field weights: the words people type (terms) say most about a topic; long answers least.
W_TERMS, W_LABEL, W_DESCRIPTION, W_TITLE, W_ANSWER = 3.0, 2.0, 1.5, 1.5, 0.6
SECONDARY = 0.4  # share of a snippet's words credited to its secondary topics
K1, B = 1.2, 0.5
PHRASE_BONUS = 1.5
OTHER_LANG = 0.35  # mixed-language messages: the other language's index counts a little
MODEL_WEIGHT = 0.8  # share of the learned model in the final score; BM25 keeps the rest
TOPIC_TEMPERATURE = 0.1  # SVM margins / this -> softmax
MAX_CORRECTIONS = 50_000  # unknown stems remembered with their nearest known stem
SNIPPETS = 6  # snippets a triage result carries, best first across topics
# Below this P(covered) the desk says it has no card instead of showing the nearest one.
# Calibrated on the labelled sets (tests/test_scope.py): at most 5 % of questions that have a
# fitting card abstain, at least 90 % of those outside. Session 11 (524 cards): 0.70 gives
# 2.9 % / 91.7 %, 0.75 3.4 % / 91.7 %, 0.78 4.0 % / 91.7 %; at 467 cards 0.70 had fallen to
# 88.3 % outside. Session 14 (570 cards), with the steadier scope model (C_SCOPE 3, solved to
# tolerance 1e-6 in knowledge/training.py): 0.65 gives 2.3 % / 91.7 % (15/653, 55/60), 0.70
# 2.8 %, 0.75 4.0 % covered. Re-check when many examples are added (earlier sessions' figures
# are in the README's "Measured" table and the issue notes).
SCOPE_THRESHOLD = 0.65
# A covered question whose best card scores below this gets the card with a word that it may
# not fit the situation exactly (the Advieslijn and the experts named). On the sixth practice
# set's blind-graded answers (session 12), 17 of 74 covered answers fell below -6.0 and only 4
# of those were graded good; all 12 graded off-topic fell below -5.0.
WEAK_FIT = -6.0
# A card that fits this well (its own words and examples in the question) is shown even when
# the scope model hesitates: the scope model moves with every batch of examples, and near its
# threshold it flipped questions whose card matched strongly (session 14: a question about
# Thor Steinar clothing, fit 7.8, went from 0.83 to 0.749 after six unrelated examples). Of
# the labelled questions outside the knowledge none reaches it (highest 1.9).
STRONG_FIT = 3.0
# Function words that belong to one language only ("in", "is", "we" are in both lists).
_OWN_STOPWORDS = {"nl": STOPWORDS["nl"] - STOPWORDS["en"], "en": STOPWORDS["en"] - STOPWORDS["nl"]}
_LINGUA = {Language.DUTCH: "nl", Language.ENGLISH: "en"}


@dataclass(frozen=True, slots=True)
class TriageResult:
    """What triage found for one message."""

    topics: list[tuple[Topic, float]]
    urgent: bool
    snippets: list[str]  # ids, best first across all topics
    lang: str
    fit: float = 0.0  # the best snippet's score: how well the knowledge covers the question
    in_scope: float = 1.0  # P(the knowledge covers the question), ScopeModel
    # A certain alarm (a rule, or the model well above its threshold): "what to do now"
    # comes first. A possible one (the model just above it) keeps 112 first and answers the
    # question itself, with "what to do now" next.
    urgent_sure: bool = True
    scores: tuple[float, ...] = ()  # the ranker's score of each of `snippets`, in order

    @property
    def covered(self) -> bool:
        """Whether the knowledge has a card for this question (else the desk says so)."""
        return self.in_scope >= SCOPE_THRESHOLD or self.fit >= STRONG_FIT

    @property
    def weak_fit(self) -> bool:
        """Covered, but even the best card fits poorly: shown with a word of caution."""
        return self.covered and self.fit < WEAK_FIT

    @property
    def top(self) -> Topic:
        """The best topic."""
        return self.topics[0][0]

    def as_json(self) -> dict[str, object]:
        """The `vraagbaak triage` output line."""
        return {"topics": [{"id": t.value, "score": round(s, 4)} for t, s in self.topics],
                "urgent": self.urgent, "snippets": self.snippets, "lang": self.lang,
                "fit": round(self.fit, 4), "in_scope": round(self.in_scope, 4)}


class _Index:
    """A BM25 index with one document per topic, for one language."""

    def __init__(self, kb: KnowledgeBase, lang: str) -> None:
        self.lang = lang
        tf: dict[Topic, Counter[str]] = {t: Counter() for t in Topic}
        phrases: dict[Topic, list[tuple[str, ...]]] = defaultdict(list)

        def add(topic: Topic, text: str, weight: float) -> None:
            for s in stems(text, lang):
                tf[topic][s] += weight

        for topic, info in kb.topics.items():
            add(topic, info.label[lang], W_LABEL)
            add(topic, info.description[lang], W_DESCRIPTION)
            for term in info.terms[lang]:
                add(topic, term, W_TERMS)
                phrase = tuple(stems(term, lang))
                if len(phrase) >= 2:
                    phrases[topic].append(phrase)
        for snippet in kb.snippets.values():
            text = snippet.text(lang)
            for i, topic in enumerate(snippet.topics):
                share = 1.0 if i == 0 else SECONDARY
                add(topic, text.title, W_TITLE * share)
                add(topic, text.answer, W_ANSWER * share)
        self.topics = list(tf)
        self.idf, weights = bm25_weights([tf[t] for t in self.topics], K1, B)
        self.by_length: dict[int, list[str]] = defaultdict(list)
        for w in sorted(w for w in self.idf if len(w) >= 4):
            self.by_length[len(w)].append(w)
        self.corrections: dict[str, str | None] = {}
        # Precomputed once: per stem, its BM25 term weight in each topic (vectorised scoring).
        self.row_of = {s: i for i, s in enumerate(self.idf)}
        self.weights = np.array([[topic.get(s, 0.0) for topic in weights] for s in self.idf])
        # Each phrase under one of its stems: only phrases whose stem is present are checked.
        self.phrases: dict[str, list[tuple[int, frozenset[str], float]]] = defaultdict(list)
        for i, t in enumerate(self.topics):
            for p in phrases[t]:
                self.phrases[p[0]].append((i, frozenset(p), PHRASE_BONUS * len(p)))

    def correct(self, stem: str) -> str | None:
        """The nearest known stem for a typo, or None."""
        if stem in self.idf:
            return stem
        if len(stem) < 5:
            return None
        if stem in self.corrections:
            return self.corrections[stem]
        # Fuzzy search over the vocabulary is the costliest step of a message: remember it.
        # Similarity >= 0.8 needs lengths within 20% of each other: search only those.
        n = len(stem)
        candidates = sorted(chain.from_iterable(
            self.by_length.get(k, ()) for k in range((4 * n + 4) // 5, 5 * n // 4 + 1)))
        match = process.extractOne(stem, candidates, scorer=Levenshtein.normalized_similarity,
                                   score_cutoff=0.8)
        if len(self.corrections) >= MAX_CORRECTIONS:
            self.corrections.clear()
        self.corrections[stem] = match[0] if match else None
        return self.corrections[stem]

    def score(self, query: list[str]) -> dict[Topic, float]:
        """BM25 of the query against each topic, plus a bonus for whole phrases."""
        known = [c for c in map(self.correct, query) if c is not None]
        if not known:
            return dict.fromkeys(self.topics, 0.0)
        rows, repeats = np.unique(np.fromiter(map(self.row_of.__getitem__, known), np.intp,
                                              len(known)), return_counts=True)
        total = (1 + 0.2 * (repeats - 1)) @ self.weights[rows]
        present = set(known)
        for s in present:
            for i, phrase, bonus in self.phrases.get(s, ()):
                if phrase <= present:
                    total[i] += bonus
        return dict(zip(self.topics, total.tolist(), strict=True))


class TopicModel:
    """A linear classifier over the text features (a linear SVM trained in
    knowledge.training); a softmax over its margins gives the probabilities mixed with BM25."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: list[Topic]) -> None:
        self.coef = coef  # features x topics, dense
        self.intercept = intercept
        self.classes = classes

    def probabilities(self, vector: SparseRow) -> dict[Topic, float]:
        """P(topic | text) from the message's feature row."""
        z = (vector.dot(self.coef) + self.intercept) / TOPIC_TEMPERATURE
        z = np.exp(z - z.max())
        z /= z.sum()
        return dict(zip(self.classes, z.tolist(), strict=True))


class ScopeModel(LogisticModel):
    """P(the knowledge covers this question): logistic regression over words and character
    n-grams of its own (a vocabulary that also knows the words of questions outside the desk's
    knowledge, which the topic features never saw), trained on the knowledge's example
    questions (in) against questions written as outside it
    (knowledge/data/out_of_scope_examples.yaml)."""


@dataclass(frozen=True, slots=True)
class Models:
    """The trained parts of triage: numpy arrays and plain Python only."""

    features: StackedTfidf  # one vocabulary for the topic model and the snippet ranker
    topics: TopicModel
    urgency: UrgencyModel | None
    ranker: SnippetRanker
    scope: ScopeModel | None = None  # None: no out-of-scope examples to learn from


def _language_detector() -> LanguageDetector:
    # Low accuracy mode reads trigrams only: ~10x faster, and nl/en are far apart.
    return (LanguageDetectorBuilder.from_languages(*_LINGUA).with_low_accuracy_mode()
            .with_preloaded_language_models().build())


class Triage:
    """Topic ranking, language detection, urgency and snippet ranking; loads once.

    Without `models` it trains them (sklearn, a few seconds of CPU): construct it off the
    event loop. Pickled without the language detector, which is rebuilt on loading."""

    def __init__(self, kb: KnowledgeBase, models: Models | None = None) -> None:
        if models is None:
            from knowledge.training import train  # sklearn only where models are trained

            models = train(kb)
        self.kb = kb
        self.index = {lang: _Index(kb, lang) for lang in LANGS}
        self.detector = _language_detector()
        self.urgency = UrgencyDetector(models.urgency)
        self.features = models.features
        self.model = models.topics
        self.ranker = models.ranker
        self.cards = CardIndex(kb, self.ranker.snippets)
        self.scope = models.scope

    def rebound(self, kb: KnowledgeBase) -> Triage | None:
        """This triage's trained models over `kb`, when `kb` has exactly the same cards
        (an edit of texts, links or examples): what the desk serves while it retrains on the
        edit. None when cards were added or retired (only a retrain can rank those)."""
        if set(kb.snippets) != {s.id for s in self.ranker.snippets}:
            return None
        twin = copy.copy(self)
        twin.kb = kb
        twin.index = {lang: _Index(kb, lang) for lang in LANGS}
        twin.ranker = self.ranker.rebound(kb)
        twin.cards = CardIndex(kb, twin.ranker.snippets)
        return twin

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["detector"]  # a native object
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.detector = _language_detector()
        if "cards" not in state:  # a snapshot written before the lexical index
            self.cards = CardIndex(self.kb, self.ranker.snippets)

    def detect_language(self, text: str | Tokens, hint: str | None = None) -> str:
        """The message's language; the user's setting wins unless the text clearly disagrees."""
        tokens = Tokens.of(text)
        if len(tokens.words) < 3:
            return hint if hint in LANGS else "nl"
        if hint in LANGS:
            # Function words of the user's language and none of the other's: no need to ask
            # the detector (which, reading trigrams, takes "youth club in Utrecht" for Dutch).
            other = "en" if hint == "nl" else "nl"
            own = sum(w in _OWN_STOPWORDS[hint] for w in tokens.words)
            if own >= 2 and not any(w in _OWN_STOPWORDS[other] for w in tokens.words):
                return hint  # type: ignore[return-value]
        confidences = self.detector.compute_language_confidence_values(tokens.text)
        best = confidences[0]
        lang = _LINGUA[best.language]
        if hint in LANGS and lang != hint and best.value < 0.9:
            return hint  # type: ignore[return-value]
        return lang

    def rank(self, text: str | Tokens, lang: str, vector: SparseRow | None = None
             ) -> list[tuple[Topic, float]]:
        """All ten topics, best first, with scores that sum to 1."""
        tokens = Tokens.of(text)
        other = "en" if lang == "nl" else "nl"
        main = self.index[lang].score(tokens.stems(lang))
        extra = self.index[other].score(tokens.stems(other))
        raw = {t: main[t] + OTHER_LANG * extra[t] for t in Topic}
        peak = max(raw.values())
        if peak <= 0:
            # Nothing recognisable: fall back to the general 'signals' entry point.
            raw = {t: (1.0 if t is Topic.SIGNALS else 0.0) for t in Topic}
            peak = 1.0
        exp = {t: math.exp(3.0 * (v - peak) / max(peak, 1.0)) for t, v in raw.items()}
        total = sum(exp.values())
        scores = {t: e / total for t, e in exp.items()}
        if vector is None:
            vector = self.features.row(tokens)
        learned = self.model.probabilities(vector)
        scores = {t: MODEL_WEIGHT * learned[t] + (1 - MODEL_WEIGHT) * scores[t] for t in Topic}
        return sorted(scores.items(), key=lambda p: -p[1])

    def rank_snippets(self, text: str | Tokens, lang: str, audience: str | None = None,
                      limit: int | None = SNIPPETS) -> list[Snippet]:
        """Snippets from all topics, best first; `audience` (a role) is a preference."""
        return [s for s, _ in self._topics_and_snippets(Tokens.of(text), lang, audience,
                                                         limit)[1]]

    def _topics_and_snippets(self, tokens: Tokens, lang: str, audience: str | None,
                             limit: int | None
                             ) -> tuple[list[tuple[Topic, float]], list[tuple[Snippet, float]],
                                        float]:
        # One feature row serves the topic model and the snippet ranker.
        vector = self.features.row(tokens)
        topics = self.rank(tokens, lang, vector)
        # A message that names the desk's subject is for this desk, however short.
        in_scope = 1.0 if self.scope is None or names_the_subject(tokens) \
            else self.scope.probability(without_ruled_out_subject(tokens))
        lexical = self.cards.bonus(tokens.stems(lang), lang)
        return topics, self.ranker.rank_scored(vector, dict(topics), audience, limit,
                                               work_roles(tokens), work_places(tokens),
                                               lexical, len(tokens.words)), in_scope

    def triage(self, text: str, lang_hint: str | None = None,
               role: str | None = None) -> TriageResult:
        """Everything the desk needs to answer one message."""
        tokens = Tokens(text)  # tokenised once for every model below
        lang = self.detect_language(tokens, lang_hint)
        topics, scored, in_scope = self._topics_and_snippets(tokens, lang, role, SNIPPETS)
        reasons = self.urgency.reasons(tokens)
        return TriageResult(topics, bool(reasons), [s.id for s, _ in scored],
                            lang, scored[0][1] if scored else float("-inf"), in_scope,
                            self.urgency.sure(reasons, tokens),
                            tuple(float(score) for _, score in scored))
