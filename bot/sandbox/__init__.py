"""A local stand-in for Telegram: the Bot API subset the desk uses, a JSON API and a chat page."""

from bot.sandbox.server import SandboxTelegram, make_sandbox_app

__all__ = ["SandboxTelegram", "make_sandbox_app"]
