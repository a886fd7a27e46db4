"""The web application: health, metrics, the Telegram webhook and the dashboard."""

from bot.web.app import WebState, init_app

__all__ = ["WebState", "init_app"]
