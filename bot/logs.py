"""Logging setup that keeps secrets and message content out of every output path."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType

_TOKEN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{20,}")
_MASK = "<token>"


class Redactor:
    """Masks bot tokens: anything shaped like one, and the configured token exactly."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # The configured token is masked whole, and its secret half on its own, because
        # libraries print it in pieces (a URL path, a "token `…` was rejected" message).
        parts = set()
        for secret in secrets:
            if secret:
                parts.add(secret)
                tail = secret.partition(":")[2]
                if len(tail) >= 8:
                    parts.add(tail)
        self._exact = sorted(parts, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._exact:
            text = text.replace(secret, _MASK)
        return _TOKEN.sub(_MASK, text)


class RedactTokens(logging.Filter):
    """Masks tokens in a record's message and in its traceback, wherever a library puts it."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # The formatter uses exc_text as it is once set, so the traceback is masked too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def quiet_libraries(level: str) -> None:
    """Keep libraries that would log update contents, URLs or SQL parameters quiet."""
    floor = max(logging.INFO, logging.getLevelName(level))
    # PTB logs whole updates (with message text and names) at DEBUG.
    for name in ("telegram", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(floor)
    # aiohttp's access log has query strings with user ids; the SQL drivers log statements
    # with their parameters (summary text) below WARNING; the others only chatter.
    for name in ("aiohttp.access", "alembic", "apscheduler", "sqlalchemy", "sqlalchemy.engine",
                 "sqlalchemy.pool", "aiosqlite", "asyncpg"):
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


def _install_excepthooks(redact: Redactor) -> None:
    """Uncaught errors are printed with tokens masked (PTB's InvalidToken quotes the token)."""

    def excepthook(kind: type[BaseException], error: BaseException,
                   tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, error, tb))
        sys.stderr.write(redact(text))
        sys.stderr.flush()

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_hook


def setup_logging(level: str, secrets: Iterable[str] = (), fmt: str = "text") -> Redactor:
    """Configure the root logger (text, or JSON lines with fmt='json') and uncaught-error
    output; returns the redactor in use."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries(level)
    _install_excepthooks(redact)
    return redact
