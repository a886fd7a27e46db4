"""Logging setup that keeps secrets and message content out of the logs."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    """Masks anything that looks like a bot token, wherever a library puts it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg = _TOKEN.sub("<token>", message)
            record.args = None
        return True


def quiet_libraries(level: str) -> None:
    """Keep libraries that would log update contents or URLs at INFO or above, even in DEBUG."""
    floor = max(logging.INFO, logging.getLevelName(level))
    # PTB logs whole updates (with message text and names) at DEBUG.
    for name in ("telegram", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(floor)
    # aiohttp's access log has query strings with user ids; the others only chatter.
    for name in ("aiohttp.access", "alembic", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(level: str) -> None:
    """Configure the root logger for the desk's processes."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries(level)
