"""Triage of a free-text question: language, urgency, the ten topics and the best snippets."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import chain

import numpy as np
import scipy.sparse as sp
from lingua import Language, LanguageDetectorBuilder
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from knowledge.base import KnowledgeBase, Snippet
from knowledge.features import TextFeatures
from knowledge.ranking import SnippetRanker, training_texts
from knowledge.text import stems, words
from knowledge.topics import LANGS, Topic
from knowledge.urgency import UrgencyDetector

# Field weights: the words people type (terms) say most about a topic; long answers least.
W_TERMS, W_LABEL, W_DESCRIPTION, W_TITLE, W_ANSWER = 3.0, 2.0, 1.5, 1.5, 0.6
SECONDARY = 0.4  # share of a snippet's words credited to its secondary topics
K1, B = 1.2, 0.5
PHRASE_BONUS = 1.5
OTHER_LANG = 0.35  # mixed-language messages: the other language's index counts a little
MODEL_WEIGHT = 0.8  # share of the learned model in the final score; BM25 keeps the rest
C_TOPICS = 0.3  # chosen on the development set (top-1 0.915); the holdout was not used
TOPIC_TEMPERATURE = 0.1  # SVM margins / this -> softmax
MAX_CORRECTIONS = 50_000  # unknown stems remembered with their nearest known stem
SNIPPETS = 6  # snippets a triage result carries, best first across topics
_LINGUA = {Language.DUTCH: "nl", Language.ENGLISH: "en"}


@dataclass(frozen=True, slots=True)
class TriageResult:
    """What triage found for one message."""

    topics: list[tuple[Topic, float]]
    urgent: bool
    snippets: list[str]  # ids, best first across all topics
    lang: str

    @property
    def top(self) -> Topic:
        """The best topic."""
        return self.topics[0][0]

    def as_json(self) -> dict[str, object]:
        """The `vraagbaak triage` output line."""
        return {"topics": [{"id": t.value, "score": round(s, 4)} for t, s in self.topics],
                "urgent": self.urgent, "snippets": self.snippets, "lang": self.lang}


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
        lengths = {t: sum(c.values()) for t, c in tf.items()}
        avg_len = sum(lengths.values()) / len(lengths)
        df: Counter[str] = Counter()
        for counts in tf.values():
            df.update(counts.keys())
        n = len(tf)
        self.idf = {s: math.log(1 + (n - d + 0.5) / (d + 0.5)) for s, d in df.items()}
        self.by_length: dict[int, list[str]] = defaultdict(list)
        for w in sorted(w for w in self.idf if len(w) >= 4):
            self.by_length[len(w)].append(w)
        self.corrections: dict[str, str | None] = {}
        # Precomputed once: per stem, its BM25 term weight in each topic (vectorised scoring).
        self.topics = list(tf)
        norms = [K1 * (1 - B + B * lengths[t] / avg_len) for t in self.topics]
        self.weights: dict[str, np.ndarray] = {}
        for s, idf in self.idf.items():
            f = np.array([tf[t].get(s, 0.0) for t in self.topics])
            self.weights[s] = idf * f * (K1 + 1) / (f + np.array(norms))
        self.phrase_bonus = [(i, frozenset(p), PHRASE_BONUS * len(p))
                             for i, t in enumerate(self.topics) for p in phrases[t]]

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
        known = [c for c in (self.correct(s) for s in query) if c is not None]
        total = np.zeros(len(self.topics))
        for s, q in Counter(known).items():
            row = self.weights.get(s)
            if row is not None:
                total += row * (1 + 0.2 * (q - 1))
        present = set(known)
        for i, phrase, bonus in self.phrase_bonus:
            if phrase <= present:
                total[i] += bonus
        return dict(zip(self.topics, total.tolist(), strict=True))


def topic_texts(kb: KnowledgeBase) -> tuple[list[str], list[str]]:
    """(text, topic id) pairs: example questions, descriptions, terms and snippet titles."""
    texts: list[str] = []
    labels: list[str] = []
    for topic in Topic:
        for lang in LANGS:
            for text in kb.examples.get(topic, {}).get(lang, ()):
                texts.append(text)
                labels.append(topic.value)
            info = kb.topics[topic]
            texts.append(info.description[lang])
            labels.append(topic.value)
            for term in info.terms[lang]:
                texts.append(term)
                labels.append(topic.value)
        for snippet in kb.by_topic[topic]:
            for lang in LANGS:
                texts.append(snippet.text(lang).title)
                labels.append(topic.value)
    return texts, labels


class _ExampleModel:
    """A linear classifier trained at start-up on example questions, topic terms and titles.

    A linear SVM trains in well under a second where logistic regression took ~10 s, with
    the same accuracy; a softmax over its margins gives the probabilities mixed with BM25."""

    def __init__(self, matrix: sp.csr_matrix, labels: list[str]) -> None:
        model = LinearSVC(C=C_TOPICS)
        # BLAS threads fight each other on small machines: one thread trains faster here.
        with threadpool_limits(1):
            model.fit(matrix, labels)
        self.coef = np.ascontiguousarray(model.coef_.T)
        self.intercept = model.intercept_
        self.classes = [Topic(c) for c in model.classes_]

    def probabilities(self, vector: sp.csr_matrix) -> dict[Topic, float]:
        """P(topic | text) from the message's feature vector."""
        z = (np.asarray(vector @ self.coef).ravel() + self.intercept) / TOPIC_TEMPERATURE
        z = np.exp(z - z.max())
        z /= z.sum()
        return dict(zip(self.classes, z.tolist(), strict=True))


class Triage:
    """Topic ranking, language detection, urgency and snippet ranking; loads once.

    Building it trains the models (a few seconds of CPU): construct it off the event loop."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.index = {lang: _Index(kb, lang) for lang in LANGS}
        # Low accuracy mode reads trigrams only: ~10x faster, and nl/en are far apart.
        self.detector = (LanguageDetectorBuilder.from_languages(*_LINGUA)
                         .with_low_accuracy_mode().with_preloaded_language_models().build())
        self.urgency = UrgencyDetector(kb.urgency_examples)
        texts, labels = topic_texts(kb)
        # One vocabulary (the topic model's) for both models: each message is vectorised once.
        self.features = TextFeatures()
        self.model = _ExampleModel(self.features.fit_transform(texts), labels)
        self.ranker = SnippetRanker(kb, self.features.transform(training_texts(kb)[0]))

    def detect_language(self, text: str, hint: str | None = None) -> str:
        """The message's language; the user's setting wins unless the text clearly disagrees."""
        if len(words(text)) < 3:
            return hint if hint in LANGS else "nl"
        confidences = self.detector.compute_language_confidence_values(text)
        best = confidences[0]
        lang = _LINGUA[best.language]
        if hint in LANGS and lang != hint and best.value < 0.9:
            return hint  # type: ignore[return-value]
        return lang

    def rank(self, text: str, lang: str, vector: sp.csr_matrix | None = None
             ) -> list[tuple[Topic, float]]:
        """All ten topics, best first, with scores that sum to 1."""
        other = "en" if lang == "nl" else "nl"
        main = self.index[lang].score(stems(text, lang))
        extra = self.index[other].score(stems(text, other))
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
            vector = self.features.vector(text)
        learned = self.model.probabilities(vector)
        scores = {t: MODEL_WEIGHT * learned[t] + (1 - MODEL_WEIGHT) * scores[t] for t in Topic}
        return sorted(scores.items(), key=lambda p: -p[1])

    def rank_snippets(self, text: str, lang: str, audience: str | None = None,
                      limit: int | None = SNIPPETS) -> list[Snippet]:
        """Snippets from all topics, best first; `audience` (a role) is a preference."""
        vector = self.features.vector(text)
        topics = dict(self.rank(text, lang, vector))
        return self.ranker.rank(vector, topics, audience, limit)

    def triage(self, text: str, lang_hint: str | None = None,
               role: str | None = None) -> TriageResult:
        """Everything the desk needs to answer one message."""
        lang = self.detect_language(text, lang_hint)
        vector = self.features.vector(text)
        topics = self.rank(text, lang, vector)
        snippets = self.ranker.rank(vector, dict(topics), role, SNIPPETS)
        return TriageResult(topics, self.urgency.is_urgent(text), [s.id for s in snippets],
                            lang)
