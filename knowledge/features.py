"""The text features the learned triage models share, with numpy only: a message is tokenised
once (`Tokens`), and each fitted tf-idf block turns its tokens into a sparse row.

Fitting the vocabularies is sklearn's job, in knowledge.training; the analyzers here reproduce
the ones it fits with (tests/test_features.py compares them token for token)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cached_property
from itertools import pairwise, repeat
from typing import NamedTuple

import numpy as np

from knowledge.text import fold, word_stems, words
from knowledge.topics import LANGS

CHAR_NGRAMS = (3, 5)  # sizes of the character n-grams (sklearn's char_wb analyzer)
_WORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # sklearn's default token_pattern


class Tokens:
    """One message's text, folded and tokenised once for every model that reads it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._stems: dict[str, list[str]] = {}
        self._counted: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def of(cls, text: str | Tokens) -> Tokens:
        """The tokens of a text, or the tokens already made for it."""
        return text if isinstance(text, Tokens) else cls(text)

    @cached_property
    def folded(self) -> str:
        """Lowercased, accents stripped."""
        return fold(self.text)

    @cached_property
    def words(self) -> list[str]:
        """Folded alphanumeric words (what the stemmers and BM25 read)."""
        return words(self.text)

    def stems(self, lang: str) -> list[str]:
        """Stems of the content words under one language's stemmer."""
        found = self._stems.get(lang)
        if found is None:
            found = self._stems[lang] = word_stems(self.words, lang)
        return found

    @cached_property
    def stem_features(self) -> list[str]:
        """Stems and stem bigrams under both stemmers; the models learn which matter."""
        out: list[str] = []
        for lang in LANGS:
            tokens = self.stems(lang)
            out.extend([f"{lang}:{t}" for t in tokens])
            out.extend([f"{lang}:{a}_{b}" for a, b in pairwise(tokens)])
        return out

    @cached_property
    def char_ngrams(self) -> list[str]:
        """Character n-grams of each space-padded folded word, as sklearn's char_wb makes
        them: none longer than the padded word, which is itself the longest."""
        return [gram for word in self.folded.split() for gram in word_char_ngrams(word)]

    @cached_property
    def word_ngrams(self) -> list[str]:
        """Words of two or more characters and their bigrams (sklearn's default tokens)."""
        tokens = _WORD_TOKEN.findall(self.folded)
        return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]

    def counted(self, kind: str, vocabulary: dict[str, int],
                by_word: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The distinct tokens of one kind that a vocabulary knows, as its ids in increasing
        order, and how often each occurs; looked up once per vocabulary. `by_word`: the
        char n-gram ids of known words in this vocabulary (`StackedTfidf.index_words`)."""
        key = (kind, id(vocabulary))
        found = self._counted.get(key)
        if found is None:
            if kind == "char_ngrams" and by_word is not None:
                ids = self._char_ngram_ids(vocabulary, by_word)
            else:
                ids = _ids(getattr(self, kind), vocabulary)
            found = self._counted[key] = np.unique(ids, return_counts=True)
        return found

    def _char_ngram_ids(self, vocabulary: dict[str, int], by_word: dict[str, np.ndarray]
                        ) -> np.ndarray:
        """The known char n-gram ids, word by word: a word seen in training has them ready,
        any other word is looked up gram by gram."""
        parts = []
        for word in self.folded.split():
            ids = by_word.get(word)
            parts.append(ids if ids is not None else _ids(word_char_ngrams(word), vocabulary))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)


def word_char_ngrams(word: str) -> list[str]:
    """The char_wb n-grams of one whitespace-delimited folded word."""
    low, high = CHAR_NGRAMS
    padded = f" {word} "
    return [padded[i:i + n] for n in range(low, min(high, len(padded)) + 1)
            for i in range(len(padded) - n + 1)]


def _ids(tokens: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """The ids of the tokens a vocabulary knows, in token order."""
    ids = np.fromiter(map(vocabulary.get, tokens, repeat(-1)), dtype=np.intp,
                      count=len(tokens))
    return ids[ids >= 0]


def both_stems(text: str) -> list[str]:
    """The stem features of a text (the analyzer the stem vocabulary is fitted with)."""
    return Tokens(text).stem_features


class SparseRow(NamedTuple):
    """One message's feature row: the columns that are set, and their values."""

    cols: np.ndarray
    vals: np.ndarray

    def dot(self, dense: np.ndarray) -> np.ndarray:
        """This row times a dense matrix (features x outputs), or a vector."""
        return self.vals @ dense[self.cols]


class TfidfBlock:
    """A fitted tf-idf vocabulary (token -> column) and each column's idf."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf, dtype=np.float64)
        self.columns: np.ndarray | None = None  # set by share(): joint id -> column, or -1
        self.by_word: dict[str, np.ndarray] | None = None  # set by StackedTfidf.index_words

    def __len__(self) -> int:
        return len(self.idf)

    @staticmethod
    def share(blocks: list[TfidfBlock]) -> None:
        """Give blocks that read the same kind of tokens one joint vocabulary, so a message's
        tokens are looked up and counted once for all of them."""
        joint: dict[str, int] = {}
        for block in blocks:
            for token in sorted(block.vocabulary, key=block.vocabulary.__getitem__):
                joint.setdefault(token, len(joint))
        for block in blocks:
            columns = np.full(len(joint), -1, dtype=np.intp)
            columns[[joint[t] for t in block.vocabulary]] = list(block.vocabulary.values())
            block.vocabulary, block.columns = joint, columns

    def row(self, tokens: Tokens, kind: str) -> SparseRow:
        """Sublinear tf times idf, L2-normalised (as TfidfVectorizer(sublinear_tf=True)), of
        the message's tokens of one kind."""
        cols, counts = tokens.counted(kind, self.vocabulary, self.by_word)
        if self.columns is not None:
            cols = self.columns[cols]
            known = cols >= 0
            cols, counts = cols[known], counts[known]
        vals = (np.log(counts) + 1.0) * self.idf[cols]
        norm = np.sqrt(vals @ vals)
        if norm > 0:
            vals /= norm
        return SparseRow(cols, vals)


class StackedTfidf:
    """Tf-idf blocks side by side, each reading one kind of a message's tokens (the name of
    a `Tokens` attribute) and normalised on its own, as sklearn stacks fitted vectorisers."""

    def __init__(self, blocks: list[tuple[str, TfidfBlock]]) -> None:
        self.blocks = blocks
        ends = np.cumsum([len(block) for _, block in blocks])
        self.offsets = ends - [len(block) for _, block in blocks]
        self.width = int(ends[-1])

    def row(self, tokens: Tokens) -> SparseRow:
        """The stacked feature row of one message."""
        parts = [block.row(tokens, kind) for kind, block in self.blocks]
        cols = [part.cols + offset for part, offset in zip(parts, self.offsets, strict=True)]
        return SparseRow(np.concatenate(cols), np.concatenate([part.vals for part in parts]))

    def index_words(self, words: Iterable[str], *others: StackedTfidf) -> None:
        """Look up the char n-grams of these words (the training texts') once, so a message
        made of known words needs one lookup per word instead of one per n-gram (about
        fifteen). Blocks sharing a vocabulary (`share_vocabularies`) share the index; the
        rows are the same as without it."""
        known = sorted(set(words))
        indexes: dict[int, dict[str, np.ndarray]] = {}
        for stack in (self, *others):
            for kind, block in stack.blocks:
                if kind == "char_ngrams":
                    index = indexes.get(id(block.vocabulary))
                    if index is None:
                        index = indexes[id(block.vocabulary)] = {
                            word: _ids(word_char_ngrams(word), block.vocabulary)
                            for word in known}
                    block.by_word = index

    def share_vocabularies(self, *others: StackedTfidf) -> None:
        """Blocks of these stacks that read the same kind of tokens as one of this stack's
        share one vocabulary (all in one step: a shared block cannot be shared again)."""
        for kind, block in self.blocks:
            theirs = [b for other in others for k, b in other.blocks if k == kind]
            if theirs:
                TfidfBlock.share([block, *theirs])


class LogisticModel:
    """A logistic regression over a stack of tf-idf features of its own (trained in
    knowledge.training): P(class | text)."""

    def __init__(self, features: StackedTfidf, coef: np.ndarray, intercept: float) -> None:
        self.features = features
        self.coef = coef
        self.intercept = intercept

    def probability(self, text: str | Tokens) -> float:
        """P(class | text)."""
        z = float(self.features.row(Tokens.of(text)).dot(self.coef)) + self.intercept
        return 1.0 / (1.0 + math.exp(-z))
