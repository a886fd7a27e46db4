"""Triage's numpy features against sklearn's: the same tokens from the same text, the same
tf-idf rows, the same products, so the models trained by sklearn read what they learned."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.base import KnowledgeBase
from knowledge.features import SparseRow, StackedTfidf, TfidfBlock, Tokens
from knowledge.ranking import PrunedWeights
from knowledge.text import stems
from knowledge.topics import LANGS
from knowledge.training import (
    char_vectorizer,
    feature_matrix,
    fit_features,
    snippet_texts,
    topic_texts,
    word_vectorizer,
)

ODD_TEXTS = [
    "", " ", "\t", "a", "ab", "I", "  a  b  ", "\t\ttab\tseparated\n\nnew\r\nlines\x0b\x0c",
    "Syrië café naïve Ünïcödé façade", "İstanbul ß ẞ Æsir ﬁne ½ ² Ⅻ",
    "emoji 😀🔥 only 👩‍👩‍👧 ✊🏽", "😀", "مرحبا بالعالم שלום עולם", "\u202eRTL override\u202c",
    "nul\x00byte\x00 in\x00", "\u00a0nbsp\u2003em space\u3000ideographic\u2028line\u2029para",
    "\x1c\x1d\x1e\x1f unit separators\x85next line", "zero\u200bwidth\u200djoiner\ufeff",
    "don't-stop_me now!!! 1.234,56 € #tag @user", "x" * 300, "ik   weet   het\n\n\nniet",
]


def _stem_features_reference(text: str) -> list[str]:
    """The stem analyzer as it was written before the token holder."""
    out: list[str] = []
    for lang in LANGS:
        tokens = stems(text, lang)
        out.extend(f"{lang}:{t}" for t in tokens)
        out.extend(f"{lang}:{a}_{b}" for a, b in pairwise(tokens))
    return out



@pytest.fixture(scope="module")
def corpus(kb: KnowledgeBase) -> list[str]:
    """Every text any model trains on, and the odd ones."""
    urgency = [t for texts in kb.urgency_examples.values() for t in texts]
    return topic_texts(kb)[0] + snippet_texts(kb)[0] + urgency + ODD_TEXTS


def _assert_same_tokens(text: str) -> None:
    tokens = Tokens(text)
    assert Counter(tokens.char_ngrams) == Counter(char_vectorizer().build_analyzer()(text))
    assert Counter(tokens.word_ngrams) == Counter(word_vectorizer().build_analyzer()(text))
    assert tokens.stem_features == _stem_features_reference(text)


@pytest.mark.timeout(120)
def test_tokens_match_the_sklearn_analyzers_on_every_training_text(corpus: list[str]) -> None:
    assert len(corpus) > 5000
    chars, words = char_vectorizer().build_analyzer(), word_vectorizer().build_analyzer()
    for text in corpus:
        tokens = Tokens(text)
        assert Counter(tokens.char_ngrams) == Counter(chars(text)), text
        assert Counter(tokens.word_ngrams) == Counter(words(text)), text
        assert tokens.stem_features == _stem_features_reference(text), text


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_tokens_match_the_sklearn_analyzers_on_odd_texts(text: str) -> None:
    _assert_same_tokens(text)


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_tokens_match_the_sklearn_analyzers_on_any_text(text: str) -> None:
    _assert_same_tokens(text)


@pytest.mark.timeout(120)
def test_rows_match_sklearn_tfidf(kb: KnowledgeBase, corpus: list[str]) -> None:
    texts = topic_texts(kb)[0]
    features, fitted = fit_features(texts)
    ours = feature_matrix(features, texts)
    assert ours.shape == fitted.shape and ours.nnz == fitted.nnz
    assert abs(ours - fitted).max() < 1e-12
    # Unseen texts: the urgency and snippet texts through the same vocabularies.
    vectorizer = char_vectorizer()
    vectorizer.fit(texts)
    block = TfidfBlock(vectorizer.vocabulary_, vectorizer.idf_)
    expected = vectorizer.transform(corpus)
    for i, text in enumerate(corpus):
        row = block.row(Tokens(text), "char_ngrams")
        want = expected.getrow(i)
        assert row.cols.tolist() == want.indices.tolist(), text
        assert np.allclose(row.vals, want.data, rtol=0, atol=1e-12), text


@pytest.mark.timeout(120)
def test_blocks_sharing_a_vocabulary_give_the_same_rows(kb: KnowledgeBase,
                                                         corpus: list[str]) -> None:
    urgency = [t for texts in kb.urgency_examples.values() for t in texts]
    fitted = [char_vectorizer().fit(texts) for texts in (topic_texts(kb)[0], urgency)]
    apart = [TfidfBlock(v.vocabulary_, v.idf_) for v in fitted]
    shared = [TfidfBlock(dict(v.vocabulary_), v.idf_) for v in fitted]
    TfidfBlock.share(shared)
    assert shared[0].vocabulary is shared[1].vocabulary
    for text in corpus[::7]:
        tokens = Tokens(text)
        for one, other in zip(apart, shared, strict=True):
            want, got = one.row(tokens, "char_ngrams"), other.row(tokens, "char_ngrams")
            order = np.argsort(got.cols)
            assert got.cols[order].tolist() == want.cols.tolist(), text
            assert np.allclose(got.vals[order], want.vals, rtol=0, atol=1e-15), text


@pytest.mark.timeout(120)
def test_the_word_index_gives_the_same_rows(kb: KnowledgeBase, corpus: list[str]) -> None:
    """Known words' char n-grams looked up in advance: every row exactly as without, for
    texts of known words, unknown words, punctuation and odd characters alike."""
    texts = topic_texts(kb)[0]
    plain, _ = fit_features(texts)
    indexed, _ = fit_features(texts)
    indexed.index_words(w for t in texts[::2] for w in Tokens(t).folded.split())
    assert all(b.by_word for k, b in indexed.blocks if k == "char_ngrams")
    for text in [*corpus[::3], "onbekendwoord sjdhfg, Radicalisering?! 😀 x"]:
        want, got = plain.row(Tokens(text)), indexed.row(Tokens(text))
        assert got.cols.tolist() == want.cols.tolist(), text
        assert np.array_equal(got.vals, want.vals), text


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_the_word_index_gives_the_same_rows_on_any_text(text: str) -> None:
    vocabulary = {g: i for i, g in enumerate(["de ", " de", " ab", "ab ", "abc", " x "])}
    plain = StackedTfidf([("char_ngrams", TfidfBlock(dict(vocabulary), np.ones(6)))])
    indexed = StackedTfidf([("char_ngrams", TfidfBlock(dict(vocabulary), np.ones(6)))])
    indexed.index_words(["de", "abc", "ab", "x"])
    want, got = plain.row(Tokens(text)), indexed.row(Tokens(text))
    assert got.cols.tolist() == want.cols.tolist()
    assert np.array_equal(got.vals, want.vals)


def test_stacked_blocks_are_normalised_apart_and_offset() -> None:
    first = TfidfBlock({"a": 0, "b": 1}, np.array([1.0, 2.0]))
    second = TfidfBlock({" a ": 0}, np.array([3.0]))
    stacked = StackedTfidf([("words", first), ("char_ngrams", second)])
    row = stacked.row(Tokens("A b a"))
    assert stacked.width == 3 and row.cols.tolist() == [0, 1, 2]
    a, b = 1.0 + np.log(2.0), 2.0
    assert np.allclose(row.vals, [a / np.hypot(a, b), b / np.hypot(a, b), 1.0])
    assert stacked.row(Tokens("zzz")).cols.tolist() == []


def test_pruned_weights_equal_the_dense_product() -> None:
    rng = np.random.default_rng(7)
    matrix = (rng.normal(size=(60, 9)) * (rng.random((60, 9)) < 0.3)).astype(np.float32)
    matrix[:10] = rng.normal(size=(10, 9))  # rows full enough to be stored dense
    weights = PrunedWeights(matrix, dense_from=6)
    assert 10 <= len(weights.dense) < 60 and 0 < len(weights.data) < matrix.size
    for cols in ([], [3], [0, 7, 8, 20, 59], [12, 30], list(range(60))):
        row = SparseRow(np.array(cols, dtype=np.intp), rng.random(len(cols)))
        assert np.allclose(weights.times(row), row.dot(matrix), rtol=1e-12), cols
