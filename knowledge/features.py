"""The text features the learned triage models share: fitted once, computed once per message."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.text import fold, stems
from knowledge.topics import LANGS


def both_stems(text: str) -> list[str]:
    """Stems and stem bigrams under both stemmers; the models learn which matter."""
    out: list[str] = []
    for lang in LANGS:
        tokens = stems(text, lang)
        out.extend(f"{lang}:{t}" for t in tokens)
        out.extend(f"{lang}:{a}_{b}" for a, b in pairwise(tokens))
    return out


class TfidfBlock:
    """One fitted tf-idf vectoriser, with a plain-Python path for a single message (sklearn's
    transform spends most of its time validating input, ~10x the arithmetic)."""

    def __init__(self, vectorizer: TfidfVectorizer, offset: int) -> None:
        self.analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf: list[float] = vectorizer.idf_.tolist()
        self.offset = offset

    @classmethod
    def side_by_side(cls, vectorizers: list[TfidfVectorizer]) -> list[TfidfBlock]:
        """Blocks for fitted vectorisers whose outputs are stacked left to right."""
        blocks, offset = [], 0
        for vectorizer in vectorizers:
            blocks.append(cls(vectorizer, offset))
            offset += len(vectorizer.vocabulary_)
        return blocks

    def row(self, text: str) -> dict[int, float]:
        """Column -> weight: sublinear tf times idf, L2-normalised (as TfidfVectorizer)."""
        counts = Counter(j for j in map(self.vocabulary.get, self.analyze(text))
                         if j is not None)
        weights = {j: (1.0 + math.log(c)) * self.idf[j] for j, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {self.offset + j: w / norm for j, w in weights.items()}


class TextFeatures:
    """Tf-idf of word stems (meaning) and of character n-grams of the folded text (typos,
    compounds), side by side. The topic model and the snippet ranker both read one vector."""

    def __init__(self) -> None:
        self.stems = TfidfVectorizer(analyzer=both_stems, sublinear_tf=True, min_df=1)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                     min_df=2, preprocessor=fold)
        self.blocks: list[TfidfBlock] = []
        self.width = 0

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        """Learn the vocabularies from the training texts and return their rows."""
        parts = [self.stems.fit_transform(texts), self.chars.fit_transform(texts)]
        self.blocks = TfidfBlock.side_by_side([self.stems, self.chars])
        self.width = sum(part.shape[1] for part in parts)
        return sp.hstack(parts, format="csr")

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Feature rows of many texts (training data)."""
        return sp.hstack([self.stems.transform(texts), self.chars.transform(texts)],
                         format="csr")

    def vector(self, text: str) -> sp.csr_matrix:
        """The feature row of one message."""
        return one_row(self.blocks, text, self.width)


def one_row(blocks: list[TfidfBlock], text: str, width: int) -> sp.csr_matrix:
    """The stacked tf-idf row of one text, as a 1 x width sparse matrix."""
    cells: dict[int, float] = {}
    for block in blocks:
        cells.update(block.row(text))
    columns = sorted(cells)
    return sp.csr_matrix((np.array([cells[j] for j in columns], dtype=np.float64),
                          np.array(columns, dtype=np.int32),
                          np.array([0, len(columns)], dtype=np.int32)), shape=(1, width))
