"""Turns knowledge into short Telegram messages (HTML parse mode)."""

from __future__ import annotations

from handlers.context import DeskContext, esc
from knowledge.base import KnowledgeBase, Referral, Snippet
from locales import Translator

ADVICE_LINE = "070-333 45 58"


def referral_line(referral: Referral, lang: str) -> str:
    """'Name: phone · link' for one organisation."""
    name = referral.name[lang]
    parts = [f"<b>{esc(name)}</b>"]
    # "Alarmnummer 112: 112" says the number twice; a name that holds its number is enough.
    contact = [c for c in (referral.phone, referral.url) if c and c not in name]
    if contact:
        parts.append(" · ".join(esc(c) for c in contact))
    return ": ".join(parts)


def snippet_html(context: DeskContext, snippet: Snippet, lang: str,
                 show_topic: bool = True) -> str:
    """A snippet with its topic, title, answer and referral links."""
    return snippet_text(context.desk.kb, context.tr, snippet, lang, show_topic)


def snippet_text(kb: KnowledgeBase, tr: Translator, snippet: Snippet, lang: str,
                 show_topic: bool = True) -> str:
    """A snippet with its topic, title, answer and referral links, in `tr`'s words."""
    text = snippet.text(lang)
    lines = []
    if show_topic:
        label = kb.topics[snippet.topic].label[lang]
        lines.append(tr._("Topic: {topic}").format(topic=f"<i>{esc(label)}</i>"))
    lines.append(f"<b>{esc(text.title)}</b>")
    lines.append(esc(text.answer))
    links = [kb.referrals[r] for r in snippet.links if r in kb.referrals]
    if links:
        lines.append("")
        lines.append(tr._("Where to go:"))
        lines.extend("• " + referral_line(r, lang) for r in links)
    return "\n".join(lines)


def urgent_html(context: DeskContext) -> str:
    """The 112-first instruction for acute danger."""
    tr = context.tr
    return "\n\n".join([
        "⚠️ <b>" + esc(tr._("Is someone in danger right now? Call 112 immediately (or the "
                            "police).")) + "</b>",
        esc(tr._("Vraagbaak is not an emergency line and cannot send help. If someone is "
                 "thinking about suicide: 113 Zelfmoordpreventie, 113 or 0800-0113.")),
        esc(tr._("When it is safe, the advice line of Platform JEP thinks along with you: "
                 "{phone} (office hours). If you ask for an expert here, your question gets "
                 "priority.").format(phone=ADVICE_LINE)),
    ])

