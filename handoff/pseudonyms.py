"""Keyed pseudonyms: stable within the desk (or, for logs, within a day), meaningless outside."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo


class Pseudonyms:
    """HMAC-based ids for logs and for how experts see a user.

    Log ids use a random key drawn per day and held only in memory, never derived from the
    desk's secret: logs of different days cannot be joined, and no log id can be recomputed
    from a Telegram id afterwards, not even with the secret key and the database.
    """

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time,
                 zone: ZoneInfo | None = None) -> None:
        self._secret = secret
        self._clock = clock
        self._zone = zone or ZoneInfo("Europe/Amsterdam")
        self._log_day: date | None = None
        self._log_key = b""

    def _digest(self, purpose: str, value: int | str) -> bytes:
        return hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()

    def _day_key(self) -> bytes:
        today = datetime.fromtimestamp(self._clock(), self._zone).date()
        if today != self._log_day:
            # Yesterday's key is dropped here; nothing else ever held it.
            self._log_day, self._log_key = today, secrets.token_bytes(32)
        return self._log_key

    def log_id(self, user_id: int | None) -> str:
        """A short id for log lines, the same all day, never the Telegram id itself."""
        if user_id is None:
            return "-"
        digest = hmac.new(self._day_key(), f"log:{user_id}".encode(), hashlib.sha256)
        return "u" + digest.hexdigest()[:10]

    def asker_number(self, ticket_id: str) -> int:
        """A 4-digit number for 'Vraagsteller NNNN', fresh per ticket so tickets don't link."""
        return 1000 + int.from_bytes(self._digest("asker", ticket_id)[:4], "big") % 9000
