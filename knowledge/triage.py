"""Ranks the ten topics for a free-text question and picks the snippets to show."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise

from lingua import Language, LanguageDetectorBuilder
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from threadpoolctl import threadpool_limits

from knowledge.base import KnowledgeBase, Snippet
from knowledge.text import fold, stems, words
from knowledge.topics import LANGS, Topic
from knowledge.urgency import UrgencyDetector

# Field weights: the words people type (terms) say most about a topic; long answers least.
W_TERMS, W_LABEL, W_DESCRIPTION, W_TITLE, W_ANSWER = 3.0, 2.0, 1.5, 1.5, 0.6
SECONDARY = 0.4  # share of a snippet's words credited to its secondary topics
K1, B = 1.2, 0.5
PHRASE_BONUS = 1.5
OTHER_LANG = 0.35  # mixed-language messages: the other language's index counts a little
MODEL_WEIGHT = 0.8  # share of the learned model in the final score; BM25 keeps the rest
C_REG = 10.0
_LINGUA = {Language.DUTCH: "nl", Language.ENGLISH: "en"}


@dataclass(frozen=True, slots=True)
class TriageResult:
    """What triage found for one message."""

    topics: list[tuple[Topic, float]]
    urgent: bool
    snippets: list[str]
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
        self.phrases: dict[Topic, list[tuple[str, ...]]] = defaultdict(list)

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
                    self.phrases[topic].append(phrase)
        for snippet in kb.snippets.values():
            text = snippet.text(lang)
            for i, topic in enumerate(snippet.topics):
                share = 1.0 if i == 0 else SECONDARY
                add(topic, text.title, W_TITLE * share)
                add(topic, text.answer, W_ANSWER * share)
        self.tf = tf
        lengths = {t: sum(c.values()) for t, c in tf.items()}
        self.avg_len = sum(lengths.values()) / len(lengths)
        self.lengths = lengths
        df: Counter[str] = Counter()
        for counts in tf.values():
            df.update(counts.keys())
        n = len(tf)
        self.idf = {s: math.log(1 + (n - d + 0.5) / (d + 0.5)) for s, d in df.items()}
        self.vocabulary = sorted({w for w in self.idf if len(w) >= 4})

    def correct(self, stem: str) -> str | None:
        """The nearest known stem for a typo, or None."""
        if stem in self.idf:
            return stem
        if len(stem) < 5:
            return None
        match = process.extractOne(stem, self.vocabulary, scorer=Levenshtein.normalized_similarity,
                                   score_cutoff=0.8)
        return match[0] if match else None

    def score(self, query: list[str]) -> dict[Topic, float]:
        """BM25 of the query against each topic, plus a bonus for whole phrases."""
        known = [c for c in (self.correct(s) for s in query) if c is not None]
        counts = Counter(known)
        scores: dict[Topic, float] = {}
        for topic, tf in self.tf.items():
            norm = K1 * (1 - B + B * self.lengths[topic] / self.avg_len)
            total = 0.0
            for s, q in counts.items():
                f = tf.get(s, 0.0)
                if f:
                    total += self.idf[s] * f * (K1 + 1) / (f + norm) * (1 + 0.2 * (q - 1))
            present = set(known)
            for phrase in self.phrases[topic]:
                if all(p in present for p in phrase):
                    total += PHRASE_BONUS * len(phrase)
            scores[topic] = total
        return scores


class _ExampleModel:
    """A linear classifier trained at start-up on example questions, topic terms and titles.

    Word stems carry meaning; character n-grams of the folded text catch typos and compounds.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
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
        self.vectorizer = FeatureUnion([
            ("stems", TfidfVectorizer(analyzer=_both_stems, sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                      min_df=2, preprocessor=fold)),
        ])
        matrix = self.vectorizer.fit_transform(texts)
        self.model = LogisticRegression(C=C_REG, max_iter=3000)
        # BLAS threads fight each other on small machines: one thread trains ~3x faster here.
        with threadpool_limits(1):
            self.model.fit(matrix, labels)
        self.classes = [Topic(c) for c in self.model.classes_]

    def probabilities(self, text: str) -> dict[Topic, float]:
        """P(topic | text)."""
        probs = self.model.predict_proba(self.vectorizer.transform([text]))[0]
        return dict(zip(self.classes, (float(p) for p in probs), strict=True))


def _both_stems(text: str) -> list[str]:
    """Stems and stem bigrams under both stemmers; the model learns which matter."""
    out: list[str] = []
    for lang in LANGS:
        tokens = stems(text, lang)
        out.extend(f"{lang}:{t}" for t in tokens)
        out.extend(f"{lang}:{a}_{b}" for a, b in pairwise(tokens))
    return out


class Triage:
    """Topic ranking, language detection, urgency and snippet choice; loads once."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.index = {lang: _Index(kb, lang) for lang in LANGS}
        self.detector = LanguageDetectorBuilder.from_languages(*_LINGUA).build()
        self.urgency = UrgencyDetector(kb.urgency_examples)
        self.model = _ExampleModel(kb)
        self._snippet_stems = {
            (s.id, lang): Counter(stems(s.text(lang).title + " " + s.text(lang).title + " "
                                        + s.text(lang).answer, lang))
            for s in kb.snippets.values() for lang in LANGS
        }

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

    def rank(self, text: str, lang: str) -> list[tuple[Topic, float]]:
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
        if self.model is not None:
            learned = self.model.probabilities(text)
            scores = {t: MODEL_WEIGHT * learned[t] + (1 - MODEL_WEIGHT) * scores[t]
                      for t in Topic}
        return sorted(scores.items(), key=lambda p: -p[1])

    def snippets_for(self, text: str, lang: str, topics: list[Topic],
                     role: str | None = None, limit: int = 6) -> list[Snippet]:
        """Snippets of the given topics, most relevant to the text first."""
        query = Counter(stems(text, lang))
        idf = self.index[lang].idf

        def relevance(snippet: Snippet, topic: Topic) -> float:
            counts = self._snippet_stems[(snippet.id, lang)]
            score = sum(idf.get(w, 0.0) * min(counts.get(w, 0), 3) for w in query)
            return score + (0.5 if snippet.topic is topic else 0.0)

        out: list[Snippet] = []
        for topic in topics:
            # A topic's own snippets come first; those that only touch on it follow.
            own = [s for s in self.kb.by_topic[topic] if s.audience.suits(role)]
            related = [s for s in self.kb.snippets.values() if topic in s.topics[1:]
                       and s.audience.suits(role) and s not in out]
            for group in (own, related):
                out.extend(sorted((s for s in group if s not in out),
                                  key=lambda s, t=topic: -relevance(s, t)))
            if len(out) >= limit:
                break
        return out[:limit]

    def triage(self, text: str, lang_hint: str | None = None,
               role: str | None = None) -> TriageResult:
        """Everything the desk needs to answer one message."""
        lang = self.detect_language(text, lang_hint)
        topics = self.rank(text, lang)
        chosen = [t for t, _ in topics[:2]]
        snippets = self.snippets_for(text, lang, chosen, role)
        return TriageResult(topics, self.urgency.is_urgent(text), [s.id for s in snippets],
                            lang)
