"""Logging setup that keeps secrets and message content out of the logs."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

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


class JsonLines(logging.Formatter):
    """One JSON object per line, for log collectors (VRAAGBAAK_LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text") -> None:
    """Configure the root logger for the desk's processes."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries(level)
