"""Renders the handoff service's notices through the catalogs and delivers them.

The one place where handoff notices become Telegram messages: text in the recipient's language,
inline keyboards, splitting at Telegram's length limit (at line boundaries, never inside
markup), and telling the sender when something could not be delivered."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.dates import format_date, format_time
from telegram import CallbackQuery, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.error import Forbidden, TelegramError

from handlers.context import Desk, DeskContext, esc
from handlers.keyboards import column, keyboard
from handlers.menu import set_chat_commands
from handlers.render import ADVICE_LINE, snippet_text
from handoff.notices import Kind, Notice, Refusal, Result
from handoff.service import Routing
from handoff.tickets import Ticket, TicketState
from handoff.vocab import Province
from knowledge.base import Snippet, button_key
from knowledge.topics import Topic
from locales import N_, Translator, translator
from locales.vocabulary import Vocabulary

log = logging.getLogger(__name__)

# Callback data prefixes of the handoff's buttons.
INTAKE = "ho:"
RATE = "rt:"
NO_COMMENT = "rt-skip"
CLAIM = "cl:"
PICK = "pk:"
CLOSE = "cx:"
TRANSFER = "tr:"
SNIPPET = "xs:"
CLOSE_TOPIC = "ct:"  # ct:<ticket>:<topic>, the topic a closed conversation is filed under

# Telegram allows 4,096 characters per message; stay below it with room for markup.
MESSAGE_LIMIT = 3800
CHUNK = 3000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Telegram message to send."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def chunks(text: str, size: int = CHUNK) -> list[str]:
    """Raw text cut into pieces of at most `size`, preferably at line ends or spaces."""
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        if cut < size // 2:
            cut = text.rfind(" ", 0, size)
        if cut < size // 2:
            cut = size
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    pieces.append(text)
    return pieces


def pack(lines: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join complete HTML lines into messages under the limit; never splits inside a line."""
    messages: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            messages.append(current)
            candidate = line
        current = candidate
    if current:
        messages.append(current)
    return messages


def relayed(sender: str, text: str) -> list[Outgoing]:
    """A relayed message, '💬 <b>sender</b>: text', in as many parts as it needs."""
    return [Outgoing(f"💬 <b>{esc(sender)}</b>: {esc(piece)}") for piece in chunks(text)]


def refusal_text(tr: Translator, reason: Refusal) -> str:
    """The short answer to an operation that changed nothing."""
    return {
        Refusal.NOT_EXPERT: tr._("This is only for experts of Platform JEP."),
        Refusal.NOT_ADMIN: tr._("Only coordinators can invite experts."),
        Refusal.IS_EXPERT: tr._("You are an expert here; /wachtrij shows the queue."),
        Refusal.NOT_YOURS: tr._("This conversation is not yours."),
        Refusal.GONE: tr._("This conversation has ended."),
        Refusal.TAKEN: tr._("Another expert has already taken this question."),
        Refusal.FULL: tr._("You already have your maximum number of conversations."),
        Refusal.NOT_WAITING: tr._("This conversation is already yours."),
        Refusal.INVALID: tr._("This button is no longer valid."),
        Refusal.ALREADY_RATED: tr._("You have already rated this conversation. Thank you!"),
        Refusal.STALE: tr._("This step is already over; nothing was changed."),
        Refusal.TARGET_UNAVAILABLE: tr._("That expert cannot take it right now."),
        Refusal.NAME_TAKEN: tr._("An expert with this name is already in the pool; choose "
                                 "another name."),
    }[reason]


# Notices that are one fixed sentence (their params, if any, fill it; {phone} is the advice
# line's number).
PLAIN: dict[Kind, str] = {
    Kind.INTAKE_DECLINED: N_("Fine, nothing was sent to an expert. You can also call the "
                             "advice line: {phone} (office hours)."),
    Kind.INTAKE_EXPIRED: N_("This intake has expired; please start again with /expert."),
    Kind.POSITION: N_("Update: you are now number {position} in the queue."),
    Kind.REQUEUED_BY_EXPERT: N_("Your question is being passed to another expert. Your messages "
                                "so far stay with it; you don't need to repeat anything."),
    Kind.REQUEUED_SILENT: N_("Sorry for the wait: your question is back at the front of the "
                             "queue for the next available expert."),
    Kind.REQUEUED_EXPERT_LEFT: N_("Your expert is no longer available. Your question is back at "
                                  "the front of the queue; your messages so far stay with it."),
    Kind.ADDED: N_("Added to your question; the expert will read it."),
    Kind.CANCELLED: N_("Your request has been withdrawn; no expert will contact you "
                       "about it. You can always start again with /expert."),
    Kind.YOU_ENDED: N_("You have ended the conversation with the expert. Thank you "
                       "for your question."),
    Kind.COMMENT_SAVED: N_("Thank you, your comment has been saved without your name."),
    Kind.COMMENT_SKIPPED: N_("Okay. Thank you!"),
    Kind.IDLE_CLOSED_ASKER: N_("This conversation was closed because it was quiet for a long "
                               "time. You can always ask a new question."),
    Kind.NO_REQUEST: N_("You have no open request. Type a question or use /expert."),
    Kind.STEP_STALE: N_("That conversation is no longer yours (it was closed, "
                        "transferred or returned to the queue). Nothing was sent or "
                        "changed."),
    Kind.CLOSED: N_("Closed. Thank you! The anonymised summary goes to Platform "
                    "JEP."),
    Kind.RETURNED_TO_QUEUE: N_("Returned to the queue."),
    Kind.REMOVED_FROM_POOL: N_("You are no longer in the expert pool of Vraagbaak. Your open "
                               "conversations have gone back to the queue."),
    Kind.AWAY: N_("You are away; you will not get new questions. Your open "
                  "conversations stay yours."),
    Kind.QUEUE_EMPTY: N_("The queue is empty."),
    Kind.FULL: N_("You already have your maximum number of conversations."),
    Kind.NO_CONVERSATION: N_("You have no open conversation. /wachtrij shows the queue."),
    Kind.UNKNOWN_SNIPPET: N_("Unknown snippet id. Send /snippet without an id to choose from "
                             "the guidance of the conversation's topic."),
    Kind.NOT_DELIVERED: N_("Your message could not be delivered."),
}


class Renderer:
    """Notice → messages, in one language."""

    def __init__(self, desk: Desk, locale: str) -> None:
        self.desk = desk
        self.locale = locale
        self.tr = translator(locale)
        self.words = Vocabulary(locale)

    def asker(self, ticket: Ticket | str) -> str:
        """How experts see the asker: a pseudonym fresh per ticket (or ticket id)."""
        ticket_id = ticket if isinstance(ticket, str) else ticket.id
        return self.tr._("Asker {number}").format(
            number=self.desk.pseudonyms.asker_number(ticket_id))

    def routing_line(self, notice: Notice) -> str | None:
        """Where the expert's plain messages go now, when that changed or could be unclear."""
        routing = notice.params.get("routing")
        if not isinstance(routing, Routing):
            return None
        tr = self.tr
        active, held = routing.active, routing.held
        if active is None:
            if not held:
                return None
            return tr._n(
                "You still have {count} conversation. Choose with /gesprekken where your "
                "messages go; until then nothing is sent.",
                "You still have {count} conversations. Choose with /gesprekken where your "
                "messages go; until then nothing is sent.", len(held)).format(count=len(held))
        if len(held) <= 1 and notice.ticket is not None and notice.ticket.id == active.id:
            return None  # the only conversation, and this notice is about it
        if routing.switched:
            line = tr._("From now on your messages go to {asker}.").format(
                asker=self.asker(active))
        else:
            line = tr._("Your messages still go to {asker}.").format(asker=self.asker(active))
        if len(held) > 1:
            line += " " + tr._("To switch: /gesprekken, or reply to a message of the asker.")
            urgent = [t for t in held if t.urgent and t.id != active.id]
            if urgent:
                line += " " + tr._("Note: {askers} (urgent) also waits for you.").format(
                    askers=", ".join(self.asker(t) for t in urgent))
        return line

    def not_held(self, ticket_id: str, state: str) -> str:
        """Why a reply to this asker was not sent."""
        tr = self.tr
        asker = self.asker(ticket_id)
        return {
            "gone": tr._("Not sent: the conversation with {asker} no longer exists (the asker "
                         "deleted their data, or it expired)."),
            "queued": tr._("Not sent: {asker} is back in the queue; the conversation is no "
                           "longer yours."),
            "other_expert": tr._("Not sent: the conversation with {asker} is now with another "
                                 "expert."),
            "ended": tr._("Not sent: {asker} has ended the conversation."),
            "closed": tr._("Not sent: the conversation with {asker} is closed."),
            "cancelled": tr._("Not sent: {asker} has ended the conversation and deleted "
                              "their data."),
        }[state].format(asker=asker)

    def sector(self, code: str) -> str:
        """A sector or organisation kind in this language."""
        return self.words.sector(code)

    def region(self, code: str) -> str:
        """A province, or 'national / other'."""
        return self.words.region(code)

    def ticket_head(self, ticket: Ticket) -> str:
        """What a ticket is about, for experts: urgency, topic, sector, region; no person."""
        tr = self.tr
        topics = self.desk.kb.topics
        topic = topics[Topic(ticket.topic)].label[self.locale] \
            if ticket.topic in Topic.__members__.values() else ticket.topic
        urgent = "🔴 " + tr._("URGENT") + " · " if ticket.urgent else ""
        return (f"{urgent}<b>{esc(topic)}</b> · {esc(self.sector(ticket.sector))} · "
                f"{esc(self.region(ticket.region))}")

    def ticket_line(self, ticket: Ticket, now: float) -> str:
        """One waiting ticket for experts: what it is about and how long it has waited."""
        minutes = max(0, round((now - ticket.queued_at) / 60))
        return (f"{self.ticket_head(ticket)} · "
                + esc(self.tr._("waiting {minutes} min").format(minutes=minutes)))

    def held_line(self, ticket: Ticket, now: float) -> str:
        """One conversation an expert holds: what it is about and where it stands (a queue's
        waiting time means nothing once it is taken)."""
        tr = self.tr
        if ticket.state is TicketState.ENDED:
            state = tr._("ended by the asker at {time}; waiting for your summary").format(
                time=self.clock(ticket.ended_at or now, now))
            return f"{self.ticket_head(ticket)} · {esc(state)}"
        parts = [tr._("yours since {time}").format(time=self.clock(ticket.claimed_at or now,
                                                                    now))]
        minutes = round((now - ticket.last_user_at) / 60) if ticket.last_user_at else None
        if minutes is not None and minutes < 1:
            parts.append(tr._("last message from the asker just now"))
        elif minutes is not None:
            parts.append(tr._n("last message from the asker {minutes} minute ago",
                               "last message from the asker {minutes} minutes ago",
                               minutes).format(minutes=minutes))
        return f"{self.ticket_head(ticket)} · " + esc(" · ".join(parts))

    def clock(self, moment: float, now: float) -> str:
        """A moment's time of day ('9:12'), with its day when that is not today."""
        zone = self.desk.settings.zone
        at = datetime.fromtimestamp(moment, zone)
        clock = format_time(at, "H:mm", locale=self.locale)
        if at.date() == datetime.fromtimestamp(now, zone).date():
            return clock
        return self.tr._("{day} at {time}").format(
            day=format_date(at, "EEEE d MMMM", locale=self.locale), time=clock)

    def received_lines(self, ticket: Ticket) -> list[str]:
        """The guidance cards the asker received before the handoff, in order, each with how
        the asker marked it."""
        tr = self.tr
        # Ids and votes were stored alike; a card merged away since shows as its successor.
        received = [(sid, snippet) for sid in ticket.snippets
                    if (snippet := self.desk.kb.resolve(sid)) is not None]
        if not received:
            return [esc(tr._("The asker has not received any guidance card yet."))]
        lines = [esc(tr._("Guidance already shown to the asker, in order:"))]
        for number, (sid, snippet) in enumerate(received, 1):
            title = snippet.text(self.locale).title
            helped = ticket.votes.get(sid)
            if helped is None:
                line = title
            elif helped:
                line = tr._("{title} (marked by the asker: helps)").format(title=title)
            else:
                line = tr._("{title} (marked by the asker: does not help)").format(title=title)
            lines.append(f"{number}. {esc(line)}")
        return lines

    def when(self, moment: datetime, now: datetime) -> str:
        """'today at 9:00', 'tomorrow at 9:00' or 'Monday at 9:00' in this language."""
        clock = format_time(moment, "H:mm", locale=self.locale)
        if moment.date() == now.date():
            return self.tr._("today at {time}").format(time=clock)
        if moment.date() == now.date() + timedelta(days=1):
            return self.tr._("tomorrow at {time}").format(time=clock)
        day = format_date(moment, "EEEE d MMMM" if moment - now > timedelta(days=6)
                          else "EEEE", locale=self.locale)
        return self.tr._("{day} at {time}").format(day=day, time=clock)

    def availability_lines(self, availability: object) -> list[str]:
        """Before the intake or in the status: when an expert can be expected."""
        tr = self.tr
        now = datetime.fromtimestamp(self.desk.handoff.clock(), self.desk.settings.zone)
        back_at = getattr(availability, "back_at", None)
        if not getattr(availability, "open_now", True) and back_at is not None:
            return [esc(tr._(
                "Our experts are not available right now; they are back {when}. Your question "
                "waits in the queue until then. The advice line of Platform JEP ({phone}) is "
                "also open during office hours.").format(
                    when=self.when(back_at, now), phone=ADVICE_LINE))]
        if getattr(availability, "experts_available", 1) == 0:
            return [esc(tr._(
                "No expert is on duty at this moment. Your question waits in the queue and the "
                "first expert who comes on duty sees it. You can also call the advice line of "
                "Platform JEP: {phone} (office hours).").format(phone=ADVICE_LINE))]
        return []

    def transcript_lines(self, ticket: Ticket, transcript: Sequence[dict[str, object]],
                         previous: str | None) -> list[str]:
        """The conversation so far, with times."""
        lines = []
        zone = self.desk.settings.zone
        for item in transcript[-30:]:
            if item.get("sender") == "user":
                who = self.asker(ticket)
            else:
                who = previous or self.tr._("expert")
            at = item.get("at")
            stamp = datetime.fromtimestamp(float(at), zone).strftime("%H:%M") \
                if isinstance(at, (int, float)) else ""
            for piece in chunks(str(item.get("text", ""))):
                lines.append(f"• {stamp} <i>{esc(who)}</i>: {esc(piece)}")
        return lines

    def render(self, notice: Notice) -> list[Outgoing]:
        """The messages for a notice, with the line on where an expert's messages go now."""
        messages = self._render(notice)
        line = self.routing_line(notice)
        if line is None:
            return messages
        last = messages[-1]
        text = f"{last.text}\n\n<b>{esc(line)}</b>"
        if len(text) > MESSAGE_LIMIT:
            return [*messages, Outgoing(f"<b>{esc(line)}</b>")]
        return [*messages[:-1], Outgoing(text, last.markup)]

    def _render(self, notice: Notice) -> list[Outgoing]:
        tr = self.tr
        t = notice.ticket
        p = notice.params
        k = notice.kind
        now = self.desk.handoff.clock()

        def one(text: str, markup: InlineKeyboardMarkup | None = None) -> list[Outgoing]:
            return [Outgoing(text, markup)]

        def many(lines: Iterable[str], markup: InlineKeyboardMarkup | None = None
                 ) -> list[Outgoing]:
            messages = pack(lines)
            return [Outgoing(m, markup if i == len(messages) - 1 else None)
                    for i, m in enumerate(messages)]

        plain = PLAIN.get(k)
        if plain is not None:
            return one(esc(tr._(plain).format_map({"phone": ADVICE_LINE, **p})))

        if k is Kind.INTAKE_START:
            sectors = p["sectors"]
            first = tr._("1/3 · What kind of organisation are you with?") if p["volunteer"] \
                else tr._("1/3 · In which sector do you work?")
            lines = [esc(tr._("An expert of Platform JEP can think along with you. Three short "
                              "questions first."))]
            lines += self.availability_lines(p["availability"])
            return one("\n\n".join([*lines, esc(first)]), keyboard(
                [(self.sector(s), f"{INTAKE}s:{s}") for s in sectors[i:i + 2]]
                for i in range(0, len(sectors), 2)))
        if k is Kind.INTAKE_REGION:
            provinces = [x for x in p["provinces"] if x is not Province.NATIONAL]
            rows = [[(x.value, f"{INTAKE}r:{x.value}") for x in provinces[i:i + 3]]
                    for i in range(0, len(provinces), 3)]
            rows.append([(tr._("National / other"), f"{INTAKE}r:{Province.NATIONAL.value}")])
            return one(esc(tr._("2/3 · In which province do you work?")), keyboard(rows))
        if k is Kind.INTAKE_CONSENT:
            return one(esc(tr._(
                "3/3 · An expert will read this conversation, including the questions you asked "
                "just before. The expert does not see your name or Telegram account. Do not "
                "share names or details that identify a young person. Do you agree?")),
                keyboard([[(tr._p("button", "Yes, connect me"), f"{INTAKE}c:1"),
                           (tr._p("button", "No"), f"{INTAKE}c:0")]]))
        if k is Kind.STATUS and t is not None:
            if "expert_name" in p:
                return one(esc(tr._("You are talking with {name}. Type your message; /stop ends "
                                    "the conversation.").format(
                    name=p["expert_name"] or tr._("an expert"))))
            position = int(p["position"])
            lines = [esc(tr._("Your question is in the queue. You are number {position}.").format(
                position=position))]
            closed = self.availability_lines(p["availability"])
            if closed:
                lines += closed
            elif p["wait_seconds"] is None:
                lines.append(esc(tr._("We don't have enough data yet for a waiting-time "
                                      "estimate.")))
            else:
                minutes = max(1, round(float(p["wait_seconds"]) / 60))
                lines.append(esc(tr._n(
                    "Recently, people in your place waited about {minutes} minute.",
                    "Recently, people in your place waited about {minutes} minutes.",
                    minutes).format(minutes=minutes)))
            lines.append(esc(tr._("You can keep typing: your messages are added for the "
                                  "expert. /stop cancels your request.")))
            return one("\n\n".join(lines))
        if k is Kind.CLAIMED:
            return one(esc(tr._("{name}, an expert of Platform JEP, is now reading your question "
                                "and will answer here. /stop ends the conversation.").format(
                name=p["expert_name"])))
        if k is Kind.TAKEN_OVER:
            return one(esc(tr._("{name}, another expert of Platform JEP, takes over your "
                                "conversation and will answer here.").format(
                name=p["expert_name"])))
        if k is Kind.FROM_EXPERT:
            return relayed(str(p["expert_name"]), p["text"])
        if k is Kind.SNIPPET_FROM_EXPERT:
            snippet = self._card(p["snippet"])
            intro = tr._("{name} shares this guidance with you:").format(name=p["expert_name"])
            body = snippet_text(self.desk.kb, tr, snippet, self.locale, show_topic=False)
            return many([f"💬 <b>{esc(intro)}</b>", "", body])
        if k is Kind.RATE_PROMPT and t is not None:
            lead = tr._("The expert has closed the conversation. Thank you for your question.") \
                if p.get("by_expert") else ""
            ask = tr._("How useful was this conversation? (1 = not at all, 5 = very)")
            return one(esc(f"{lead} {ask}".strip()),
                       keyboard([[(str(n), f"{RATE}{t.id}:{n}") for n in range(1, 6)]]))
        if k is Kind.RATED:
            return one(esc(tr._("Thank you: you gave {rating} out of 5. Would you like to add a "
                                "short comment? Just type it now.").format(rating=p["rating"])),
                       keyboard([[(tr._p("button", "No comment"), NO_COMMENT)]]))
        if k is Kind.ANNOUNCE and t is not None:
            title = tr._("Urgent question in the queue") if t.urgent else tr._(
                "New question in the queue")
            return one(f"{esc(title)}\n{self.ticket_line(t, now)}",
                       keyboard([[(tr._p("button", "Claim"), CLAIM + t.id)]]))
        if k is Kind.CARD and t is not None:
            lines = [f"📋 <b>{esc(self.asker(t))}</b>", self.ticket_line(t, now)]
            previous = p.get("previous_expert")
            if previous:
                lines.append(esc(tr._("Transferred by {name}.").format(name=previous)))
            if t.note:
                lines.append(esc(tr._("Note from the previous expert: {note}").format(
                    note=t.note)))
            lines += self.received_lines(t)
            transcript = self.transcript_lines(t, p.get("transcript", ()), previous)
            if transcript:
                lines.append(esc(tr._("The conversation so far:")))
                lines += transcript
            lines.append(esc(tr._("Type to answer. /sluit closes, /overdragen transfers, "
                                  "/snippet sends guidance, /gesprekken switches.")))
            return many(lines)
        if k is Kind.FROM_ASKER and t is not None:
            return relayed(self.asker(t), p["text"])
        if k is Kind.REPLY_NOT_HELD:
            return one(esc(self.not_held(str(p["ticket_id"]), str(p["state"]))))
        if k is Kind.ASKER_UNREACHABLE and t is not None:
            return one(esc(tr._("{asker} could not be reached by the desk (they may have "
                                "blocked the bot). Nothing you type reaches them until they "
                                "write again.").format(asker=self.asker(t))))
        if k is Kind.RECEIPT and t is not None:
            return one(f"→ {esc(self.asker(t))}")
        if k in (Kind.PICK_CONVERSATION, Kind.CONVERSATIONS):
            tickets: list[Ticket] = list(p["tickets"])
            if k is Kind.PICK_CONVERSATION and p.get("reason") == "not_relayed":
                head = tr._("Nothing was sent: the message you replied to is not a message "
                            "from an asker. Choose the conversation, then send your message "
                            "again (or reply to one of the asker's messages).")
            elif k is Kind.PICK_CONVERSATION:
                head = tr._("Nothing was sent: choose the conversation your messages go to, "
                            "then send your message again (or reply to one of the asker's "
                            "messages).")
            elif tickets:
                head = tr._n("You have {count} conversation.", "You have {count} conversations.",
                             len(tickets)).format(count=len(tickets))
            else:
                head = tr._("You have no open conversation.")
            active = p.get("active")
            lines = [esc(head)] + [
                ("▶️ " if x.id == active else "• ") + esc(self.asker(x)) + " · "
                + self.held_line(x, now) for x in tickets]
            ended: list[Ticket] = list(p.get("ended", ()))
            if ended:
                lines.append(esc(tr._n(
                    "Ended, waiting for your summary (the outcome buttons of its closing "
                    "message):",
                    "Ended, waiting for your summary (the outcome buttons of their closing "
                    "messages):", len(ended))))
                lines += ["• " + esc(self.asker(x)) + " · " + self.held_line(x, now)
                          for x in ended]
            return one("\n".join(lines), column(
                (("▶️ " if x.id == active else "") + self.asker(x), PICK + x.id)
                for x in tickets) if tickets else None)
        if k is Kind.SWITCHED and t is not None:
            return one(esc(tr._("Your messages now go to {asker}.").format(asker=self.asker(t))))
        if k is Kind.ASKER_ENDED and t is not None:
            return one(esc(tr._("{asker} has ended the conversation.").format(
                asker=self.asker(t))))
        if k is Kind.ASKER_LEFT and t is not None:
            return one(esc(tr._("{asker} has deleted their data; the conversation has ended "
                                "and no summary will be made.").format(asker=self.asker(t))))
        if k is Kind.ASKER_BLOCKED and t is not None:
            return one(esc(tr._("{asker} has left the chat.").format(asker=self.asker(t))))
        if k is Kind.EXPERT_BLOCKED:
            return one(esc(tr._("{name} has blocked Vraagbaak and is now away; conversations "
                                "moved back to the front of the queue: {count}.").format(
                name=p["name"], count=p["requeued"])))
        if k is Kind.OUTCOME_PROMPT and t is not None:
            return one(esc(tr._("Closing the conversation with {asker}. What was the "
                                "outcome?").format(asker=self.asker(t))),
                       column((self.words.outcome(o), f"{CLOSE}{t.id}:{o}")
                              for o in p.get("outcomes", ())))
        if k is Kind.SUMMARY_PROMPT and t is not None:
            labels = {topic.value: info.label[self.locale]
                      for topic, info in self.desk.kb.topics.items()}
            lines = [
                tr._("Topic: {topic}. Is that right? If not, choose the topic this conversation "
                     "was about below.").format(topic=labels.get(t.topic, t.topic)),
                tr._("Now type a short summary for Platform JEP's trend reports (no names or "
                     "details that identify anyone; they are removed anyway). Nothing you type "
                     "now goes to the asker.")]
            buttons = [(("✓ " if code == t.topic else "") + label, f"{CLOSE_TOPIC}{t.id}:{code}")
                       for code, label in labels.items()]
            return one(esc("\n\n".join(lines)),
                       keyboard(buttons[i:i + 2] for i in range(0, len(buttons), 2)))
        if k is Kind.FINISH_STEP_FIRST:
            text = tr._("Please choose where the conversation goes first (buttons above); "
                        "nothing was sent.") if p.get("mode") == "transfer" else tr._(
                "Please choose the outcome first (buttons above); nothing was sent.")
            return one(esc(text))
        if k is Kind.REMINDER and t is not None:
            minutes = int(p["minutes"])
            return one(esc(tr._n(
                "Reminder: {asker} is waiting for your answer. Without one, the question goes "
                "back to the queue in {minutes} minute.",
                "Reminder: {asker} is waiting for your answer. Without one, the question goes "
                "back to the queue in {minutes} minutes.", minutes).format(
                    asker=self.asker(t), minutes=minutes)))
        if k is Kind.REQUEUED_NO_ANSWER and t is not None:
            return one(esc(tr._("{asker} went back to the queue because there was no "
                                "answer.").format(asker=self.asker(t))))
        if k is Kind.IDLE_CLOSED_EXPERT and t is not None:
            return one(esc(tr._("The conversation with {asker} was closed after a long "
                                "silence.").format(asker=self.asker(t))))
        if k is Kind.UNSUMMARISED_CLOSED and t is not None:
            return one(esc(tr._("The conversation with {asker} was closed without a summary, "
                                "as none came in time.").format(asker=self.asker(t))))
        if k is Kind.NOTE_PROMPT and t is not None:
            return one(esc(tr._("Transferring {asker}. Type a short note for the next expert "
                                "(what it is about, what was said). Nothing you type now goes "
                                "to the asker.").format(asker=self.asker(t))))
        if k is Kind.TRANSFER_TARGETS and t is not None:
            rows = [(tr._p("button", "Back to the queue"), f"{TRANSFER}{t.id}:q")]
            rows += [(e.display_name, f"{TRANSFER}{t.id}:{e.expert_id}")
                     for e in p["targets"][:8]]
            return one(esc(tr._("Transfer {asker} to:").format(asker=self.asker(t))),
                       column(rows))
        if k is Kind.TRANSFERRED:
            return one(esc(tr._("Transferred to {name}.").format(name=p["to_name"])))
        if k is Kind.UNCLAIMED_ALERT and t is not None:
            minutes = int(p["minutes"])
            return one(esc(tr._n(
                "A question has been waiting for more than {minutes} minute:",
                "A question has been waiting for more than {minutes} minutes:",
                minutes).format(minutes=minutes)) + "\n" + self.ticket_line(t, now))
        if k is Kind.AVAILABLE:
            waiting = int(p["waiting"])
            return one(esc(tr._n(
                "You are available. {count} question is waiting. /volgende claims the next one.",
                "You are available. {count} questions are waiting. /volgende claims the next "
                "one.", waiting).format(count=waiting)))
        if k is Kind.QUEUE_LIST:
            waiting = list(p["tickets"])
            lines = [esc(tr._("Waiting questions:"))]
            lines += [f"{i}. {self.ticket_line(x, now)}" for i, x in enumerate(waiting[:20], 1)]
            return one("\n".join(lines), column(
                (f"{tr._p('button', 'Claim')} #{i}", CLAIM + x.id)
                for i, x in enumerate(waiting[:8], 1)))
        if k is Kind.SNIPPET_CHOICES and t is not None:
            snippets = [self.desk.kb.snippets[s] for s in p["snippets"]
                        if s in self.desk.kb.snippets]
            return one(esc(tr._("Which guidance do you want to send to {asker}?").format(
                asker=self.asker(t))), column(
                (s.text(self.locale).title[:60], f"{SNIPPET}{t.id}:{button_key(s.id)}")
                for s in snippets))
        if k is Kind.SNIPPET_SENT and t is not None:
            title = self._card(p["snippet"]).text(self.locale).title
            return one(esc(tr._("Sent to {asker}: {title}").format(asker=self.asker(t),
                                                                   title=title)))
        raise ValueError(f"no rendering for {k}")

    def _card(self, snippet_id: str) -> Snippet:
        """A card by id, also one retired since (it resolves to its successor)."""
        snippet = self.desk.kb.resolve(snippet_id)
        if snippet is None:  # ids never disappear (tests/data/stable_snippet_ids.txt)
            raise ValueError(f"unknown snippet {snippet_id!r}")
        return snippet


async def _locale(desk: Desk, notice: Notice, actor: int | None, actor_locale: str) -> str:
    if notice.to == actor:
        return actor_locale
    if notice.ticket is not None and notice.to == notice.ticket.user_id:
        return notice.ticket.lang
    profile = await desk.users.get(notice.to)
    return profile.lang or desk.settings.default_locale


# Messages to experts that a reply routes by: only an asker's relayed message. A reply to
# anything else (a card, a notice) asks which conversation is meant.
_ROUTABLE = frozenset({Kind.FROM_ASKER})


async def _asker_menu(context: DeskContext, chat_id: int, locale: str) -> None:
    """Someone left the pool: their menu is an asker's again (a coordinator keeps theirs)."""
    await set_chat_commands(context.bot, chat_id, locale, False,
                            context.desk.service.may_manage_pool(chat_id))


async def deliver(context: DeskContext, result: Result, update: Update | None = None) -> None:
    """Render and send every notice of a result (refusals are answered by the caller)."""
    desk = context.desk
    user = update.effective_user if update is not None else None
    actor = user.id if user is not None else None
    query = update.callback_query if update is not None else None
    source = update.effective_message if update is not None and query is None else None
    for notice in result.notices:
        locale = await _locale(desk, notice, actor, context.locale)
        if notice.kind is Kind.REMOVED_FROM_POOL:
            await _asker_menu(context, notice.to, locale)
        messages = Renderer(desk, locale).render(notice)
        delivered, blocked = True, False
        for index, outgoing in enumerate(messages):
            sent: Message | bool | None = None
            try:
                if (index == 0 and notice.replace and query is not None
                        and notice.to == actor and query.message is not None):
                    sent = await query.edit_message_text(outgoing.text,
                                                         reply_markup=outgoing.markup)
                else:
                    reply = ReplyParameters(source.message_id, allow_sending_without_reply=True) \
                        if notice.kind is Kind.RECEIPT and source is not None else None
                    sent = await context.bot.send_message(notice.to, outgoing.text,
                                                          reply_markup=outgoing.markup,
                                                          reply_parameters=reply)
            except Forbidden:
                # Blocked by the recipient: nothing more reaches them.
                delivered, blocked = False, True
                log.warning("could not deliver a %s notice: blocked", notice.kind)
                break
            except TelegramError as exc:
                delivered = False
                log.warning("could not deliver a %s notice: %s", notice.kind, type(exc).__name__)
            if (isinstance(sent, Message) and notice.ticket is not None
                    and notice.kind in _ROUTABLE):
                await desk.service.remember_delivery(notice.to, sent.message_id,
                                                     notice.ticket.id)
        if blocked:
            await deliver(context, await desk.service.blocked(notice.to), update)
        if not delivered and notice.failed is not None:
            await deliver(context, Result([notice.failed]), update)
        elif delivered and notice.then is not None:
            await deliver(context, Result([notice.then]), update)


async def answer(context: DeskContext, update: Update, result: Result) -> None:
    """Answer an update with a result: a refusal as a short reply or alert, else the notices."""
    query = update.callback_query
    if result.refused is not None:
        if result.refused in (Refusal.NOT_EXPERT, Refusal.NOT_YOURS):
            log.warning("refused %s user=%s", result.refused, context.log_id(update))
        text = refusal_text(context.tr, result.refused)
        if query is not None:
            await acknowledge(query, text, alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(esc(text))
    elif query is not None:
        await acknowledge(query)
    await deliver(context, result, update)


async def acknowledge(query: CallbackQuery, text: str | None = None, alert: bool = False
                      ) -> None:
    """Answer a button press. The operation is already done: whatever Telegram says to the
    answer (an expired query, a network error) must not keep its notices from going out."""
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        log.info("could not answer a callback query: %s", type(exc).__name__)
