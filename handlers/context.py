"""The typed context every handler receives: services, the user's profile and language."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio import Redis
from telegram import Message, Update
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, ExtBot, filters

from handoff.batch import Batch, BatchRunner
from handoff.experts import ExpertStore
from handoff.office_hours import OfficeHours
from handoff.outbox import Outbox
from handoff.pseudonyms import Pseudonyms
from handoff.service import HandoffService, Route
from handoff.sessions import SessionStore
from handoff.states import StateStore
from handoff.tickets import HandoffStore
from handoff.users import Profile, UserStore
from knowledge.asked import Asked, AskedStore
from knowledge.base import KnowledgeBase
from knowledge.editorial import Editorial
from knowledge.feedback import FeedbackStore
from knowledge.gaps import GapQueue
from knowledge.live import LiveKnowledge
from knowledge.trends import TrendRecorder
from knowledge.triage import Triage
from locales import Translator, negotiate, translator

if TYPE_CHECKING:
    from bot.leases import Instances, Lease
    from bot.settings import Settings

DESK_KEY = "desk"
FEED_KEY = "feed"  # bot_data: what feeds updates in (the poller or the webhook feed)
# The messages the router hands to the handoff service (handlers.router).
PLAIN_TEXT = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
# `rate_limit_args` of a send that may wait behind every other (bot.rate_limit): a welcome,
# of which a rush of newcomers brings hundreds at once, must not delay anyone's answer.
LOW_PRIORITY = 1


class HandledMarks(Protocol):
    """The feed's side of marking an update handled inside a handler's own transaction."""

    def queue_handled(self, batch: Batch, update_id: int) -> bool: ...

    def handled_written(self, update_id: int) -> None: ...


@dataclass
class Desk:
    """The services the handlers use, built once by the composition root."""

    settings: Settings
    redis: Redis
    users: UserStore
    pseudonyms: Pseudonyms
    knowledge: LiveKnowledge  # the published knowledge and its triage, swapped on publication
    feedback: FeedbackStore
    asked: AskedStore
    handoff: HandoffStore
    experts: ExpertStore
    sessions: SessionStore
    office_hours: OfficeHours
    states: StateStore
    service: HandoffService
    outbox: Outbox
    trends: TrendRecorder
    batches: BatchRunner  # the hot path's reads and writes, grouped under a rush
    editorial: Editorial  # drafts and publications of the knowledge (the dashboard's editor)
    gaps: GapQueue  # consented questions the desk could not answer, to the worker
    instances: Instances  # the live desk instances, this one beating while it runs
    singletons: Lease  # held by the one instance that runs the sweep, outbox and AOF rewrite

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge now (take `knowledge.current` once where kb and triage must match)."""
        return self.knowledge.kb

    @property
    def triage(self) -> Triage:
        """The triage now."""
        return self.knowledge.triage


class DeskContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with `desk`, `profile`, `locale` and `tr` (the user's translator)."""

    __slots__ = ("locale", "previous", "profile", "route")

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.profile: Profile | None = None
        self.locale: str = self.desk.settings.default_locale
        self.route: Route | None = None  # read with the profile for a plain text message
        self.previous: Asked | None = None  # the user's latest question, likewise

    @property
    def desk(self) -> Desk:
        """The desk's services."""
        return self.application.bot_data[DESK_KEY]

    @property
    def tr(self) -> Translator:
        """Translator for the current user's language."""
        return translator(self.locale)

    def log_id(self, update: object) -> str:
        """Pseudonymous id of the update's user, for log lines."""
        user = update.effective_user if isinstance(update, Update) else None
        return self.desk.pseudonyms.log_id(user.id if user else None)


def esc(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


@contextlib.asynccontextmanager
async def closing_transaction(context: DeskContext, update: Update) -> AsyncIterator[Batch]:
    """An atomic batch for a handler's last effects that also marks the update handled:
    both are written or neither, so a restart never repeats the effects, and the mark costs
    no round trip of its own. Use it only after everything the user should get was sent."""
    feed: HandledMarks | None = context.application.bot_data.get(FEED_KEY)
    batch = Batch()
    marked = feed is not None and feed.queue_handled(batch, update.update_id)
    yield batch
    await context.desk.batches.run(batch)
    if marked:
        assert feed is not None
        feed.handled_written(update.update_id)


async def load_profile(update: Update, context: DeskContext) -> None:
    """Before any handler: load the user's profile and pick their language.

    An update without a person (a channel post, an anonymous group admin) has nobody to
    answer or to keep a profile for, and a button press on a message the desk cannot read
    (too old, or inline mode, which the desk does not use) has nothing to act on: both stop
    here, so no handler has to guard against them."""
    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop
    desk = context.desk
    if PLAIN_TEXT.check_update(update):
        # A plain text is routed by the handoff service next: its routing read goes in the
        # same round trip as the profile (the chat's updates are handled one at a time, so
        # nothing changes in between).
        batch = Batch()
        desk.users.queue_get(batch, user.id)
        desk.service.queue_route(batch, user.id)
        desk.asked.queue_latest(batch, user.id)  # a follow-up is triaged with it
        replies = await desk.batches.run(batch)
        profile = desk.users.profile(user.id, replies[:2])
        context.route = desk.service.route(replies[2:5])
        context.previous = desk.asked.latest(replies[5])
    else:
        profile = await desk.users.get(user.id)
    context.profile = profile
    context.locale = profile.lang or negotiate(user.language_code, desk.settings.default_locale)
    query = update.callback_query
    if query is not None and not isinstance(query.message, Message):
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        raise ApplicationHandlerStop
