"""Builds the python-telegram-bot Application: the one place where the transport is chosen."""

from __future__ import annotations

import os

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

import handlers
from bot.processor import PerChatUpdateProcessor
from bot.rate_limit import PriorityRateLimiter, SharedLimit
from bot.request import AiohttpRequest
from bot.settings import Settings
from bot.telegram_bot import DeskBot
from handlers import dashboard, private_only
from handlers.context import DESK_KEY, Desk, DeskContext

# Channel posts are asked for only so that the desk can leave a channel it was added to;
# my_chat_member says that someone blocked or unblocked the bot (handlers.membership).
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY,
                   Update.CHANNEL_POST, Update.MY_CHAT_MEMBER]


def shared_limit(settings: Settings, desk: Desk) -> SharedLimit | None:
    """Several instances share Telegram's overall limit through Redis; one keeps its own."""
    if settings.instances != "multi":
        return None
    return SharedLimit(desk.redis, settings.rate_limit_per_second, settings.instance)


def build_application(settings: Settings, desk: Desk, token: str,  # type: ignore[type-arg]
                      request: BaseRequest | None = None) -> Application:
    """The Application with aiohttp transport (unless another `request` is given), rate
    limiter, per-chat ordering and handlers."""
    # Time periods as timedelta (python-telegram-bot's opt-in ahead of its next major
    # version): otherwise every 429's RetryAfter warns that its int retry_after is deprecated.
    # The desk reads no time period of PTB's objects itself.
    os.environ.setdefault("PTB_TIMEDELTA", "true")

    bot = DeskBot(
        token,
        base_url=settings.bot_base_url,
        base_file_url=settings.bot_file_url,
        request=request or AiohttpRequest(connection_pool_size=64),
        # Long polling holds its connection for the whole poll; give it its own small pool.
        get_updates_request=AiohttpRequest(connection_pool_size=2, read_timeout=10.0),
        rate_limiter=PriorityRateLimiter(settings.rate_limit_per_second, max_retries=3,
                                         shared=shared_limit(settings, desk)),
        defaults=Defaults(parse_mode=ParseMode.HTML,
                          link_preview_options=LinkPreviewOptions(is_disabled=True)),
    )
    app = (
        ApplicationBuilder()
        .bot(bot)
        # bot.polling.ReliablePoller replaces PTB's Updater, which confirms updates too early.
        .updater(None)
        .concurrent_updates(PerChatUpdateProcessor(settings.max_concurrent_chats))
        .context_types(ContextTypes(context=DeskContext))
        .build()
    )
    app.bot_data[DESK_KEY] = desk
    # First of all handler groups: groups and channels are refused before anything reads them.
    private_only.register(app)
    handlers.register_all(app)
    dashboard.register(app)
    return app
