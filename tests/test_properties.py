"""Property tests: any text a user can type is triaged without error into a full ranking."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime import knowledge
from knowledge.topics import Topic

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
TRIAGE = knowledge()[1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, hint=st.sampled_from([None, "nl", "en"]))
def test_any_text_gets_a_full_ranking(text: str, hint: str | None) -> None:
    result = TRIAGE.triage(text, hint)
    assert [t for t, _ in result.topics] and {t for t, _ in result.topics} == set(Topic)
    scores = [s for _, s in result.topics]
    assert scores == sorted(scores, reverse=True)
    assert math.isclose(sum(scores), 1.0, rel_tol=1e-6)
    assert result.lang in ("nl", "en")
    assert all(sid in TRIAGE.kb.snippets for sid in result.snippets)
    assert isinstance(result.urgent, bool)


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.sampled_from(
    ["morgen", "mes", "gaat", "aanslag", "tomorrow", "gun", "will", "news", "nieuws",
     "syrie", "ticket", "de", "een", "leerling", "school", "nu", "kill", "pills"]),
    max_size=12))
def test_urgency_is_stable_under_case_and_spacing(words: list[str]) -> None:
    text = " ".join(words)
    detector = TRIAGE.urgency
    assert detector.is_urgent(text) == detector.is_urgent("  " + text.upper() + "  ")
