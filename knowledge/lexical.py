"""A lexical second opinion on the snippet ranking: BM25 of the question's stems against each
card's own words (its example questions, title and answer).

The learned ranker generalises from examples, and with many specific cards it can prefer a
card that merely shares the asker's setting ("jongerenwerker", "ouders") over the card whose
distinctive words the question uses ("88", "reclassering", "Eritrese"). This index adds a
small bonus, largest for the card whose own words match the question best; it reorders close
calls and never outweighs a clear ranking."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from knowledge.base import KnowledgeBase, Snippet
from knowledge.text import stems
from knowledge.topics import LANGS

K1, B = 1.2, 0.75
TITLE_WEIGHT = 2  # a title word counts as much as two example questions that use it
# The best-matching card's bonus, in the ranker's log-scale score (a role penalty is 8).
# Chosen on the development sets (snippet_eval hit@1 and the practice questions).
LEXICAL_WEIGHT = 2.0


def bm25_weights(docs: list[Counter[str]], k1: float, b: float
                 ) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Okapi BM25 over documents given as term counts: each term's idf, and per document
    each of its terms' weight (idf x saturated, length-normalised term frequency)."""
    lengths = [sum(doc.values()) for doc in docs]
    average = sum(lengths) / len(lengths) or 1.0
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())
    idf = {term: math.log(1 + (len(docs) - n + 0.5) / (n + 0.5)) for term, n in df.items()}
    weights = [{term: idf[term] * f * (k1 + 1) / (f + k1 * (1 - b + b * length / average))
                for term, f in doc.items()} for doc, length in zip(docs, lengths, strict=True)]
    return idf, weights


class CardIndex:
    """Per language, each stem's BM25 weight in each card (cards in the ranker's order)."""

    def __init__(self, kb: KnowledgeBase, snippets: list[Snippet]) -> None:
        self.size = len(snippets)
        self.postings: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        for lang in LANGS:
            docs: list[Counter[str]] = []
            for snippet in snippets:
                counts: Counter[str] = Counter()
                for question in kb.snippet_examples.get(snippet.id, {}).get(lang, ()):
                    counts.update(set(stems(question, lang)))  # in how many examples
                text = snippet.text(lang)
                counts.update(dict.fromkeys(set(stems(text.title, lang)), TITLE_WEIGHT))
                counts.update(set(stems(text.answer, lang)))
                docs.append(counts)
            cards: dict[str, list[int]] = {}
            weights: dict[str, list[float]] = {}
            for j, doc in enumerate(bm25_weights(docs, K1, B)[1]):
                for stem, weight in doc.items():
                    cards.setdefault(stem, []).append(j)
                    weights.setdefault(stem, []).append(weight)
            self.postings[lang] = {s: (np.array(cards[s], dtype=np.int32),
                                       np.array(weights[s], dtype=np.float64)) for s in cards}

    def bonus(self, question_stems: Iterable[str], lang: str) -> np.ndarray:
        """Per card, LEXICAL_WEIGHT x its BM25 score relative to the best card's (0 when no
        word of the question occurs in any card)."""
        out = np.zeros(self.size)
        postings = self.postings.get(lang, {})
        for stem in set(question_stems):
            found = postings.get(stem)
            if found is not None:
                out[found[0]] += found[1]
        peak = out.max(initial=0.0)
        return LEXICAL_WEIGHT * out / peak if peak > 0 else out
