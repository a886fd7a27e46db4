"""The knowledge files load, validate, and meet the content requirements."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.base import DATA_DIR, KnowledgeError, load_knowledge
from knowledge.topics import Topic


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def test_every_snippet_is_complete(kb) -> None:
    assert len(kb.snippets) >= 60
    for topic in Topic:
        assert len(kb.by_topic[topic]) >= 4, topic
        assert any(s.audience.value in ("both", "volunteer") for s in kb.by_topic[topic]), topic
    for snippet in kb.snippets.values():
        for lang in ("nl", "en"):
            text = snippet.text(lang)
            assert text.title and 150 <= len(text.answer) <= 900, (snippet.id, lang)
        assert snippet.sources, snippet.id
        assert all(link in kb.referrals for link in snippet.links), snippet.id


def test_required_content_is_present(kb) -> None:
    nl = " ".join(s.text("nl").answer.lower() for s in kb.snippets.values())
    for phrase in ("gevoeligheid", "verkenning", "lidmaatschap", "actie", "polarisatie",
                   "extremisme", "professionele eenzaamheid", "ouders"):
        assert phrase in nl, phrase
    assert kb.referrals["advieslijn_jep"].phone == "070-333 45 58"
    assert "platformjep.nl" in (kb.referrals["advieslijn_jep"].url or "")
    assert len(kb.flow.steps) >= 5
    assert "juridisch" in kb.flow.disclaimer["nl"]


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


@pytest.mark.parametrize(("old", "new", "message"), [
    ("topics: [signals]", "topics: [signalz]", "signals.yaml: signals-phases.topics: unknown"),
    ("    en:\n      title: \"The four phases", "    xx:\n      title: \"The four phases",
     "missing translation 'en'"),
    ("links: [advieslijn_jep, ess, emergency_112]", "links: [nope]", "unknown referral 'nope'"),
])
def test_loader_names_the_file_and_problem(tmp_path: Path, old: str, new: str,
                                           message: str) -> None:
    data = _copy(tmp_path)
    path = data / "snippets" / "signals.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(KnowledgeError, match=message.split(": ")[0]) as info:
        load_knowledge(data)
    assert message.split(": ")[-1] in str(info.value)


def test_broken_link_syntax_is_rejected(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    path = data / "referrals.yaml"
    path.write_text(path.read_text().replace("https://www.platformjep.nl", "htp:/platformjep",
                                             1))
    with pytest.raises(KnowledgeError, match=r"referrals.yaml: advieslijn_jep: broken link"):
        load_knowledge(data)
