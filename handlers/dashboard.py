"""/dashboard: experts and coordinators get a one-time link to the web dashboard."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, CommandHandler

from bot.web.login import LoginLinks
from handlers.context import DeskContext, esc

log = logging.getLogger(__name__)

# Before the main group, whose fallback would otherwise answer "unknown command" first.
GROUP_DASHBOARD = -1


async def dashboard_link(update: Update, context: DeskContext) -> None:
    """Send a login link valid for 10 minutes and one use, to experts and admins only."""
    user = update.effective_user
    message = update.effective_message
    assert user is not None and message is not None
    desk = context.desk
    if not await desk.service.may_see_dashboard(user.id):
        log.info("dashboard link refused user=%s", context.log_id(update))
        await message.reply_text(context.tr._(
            "The dashboard is only for the desk's experts and coordinators."))
        raise ApplicationHandlerStop
    token = await LoginLinks(desk.redis, desk.settings.secret()).issue(user.id)
    link = f"{desk.settings.dashboard_url}/dashboard/login?t={token}"
    log.info("dashboard link issued user=%s", context.log_id(update))
    await message.reply_text(context.tr._(
        "Your link to the dashboard, valid once and for 10 minutes:\n{link}").format(
            link=esc(link)))
    raise ApplicationHandlerStop


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add /dashboard."""
    app.add_handler(CommandHandler("dashboard", dashboard_link), group=GROUP_DASHBOARD)
