"""Keyed pseudonyms: stable within the desk, meaningless outside it."""

from __future__ import annotations

import hashlib
import hmac


class Pseudonyms:
    """HMAC-based ids for logs and for how experts see a user."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _digest(self, purpose: str, value: int | str) -> bytes:
        return hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()

    def log_id(self, user_id: int | None) -> str:
        """A short id for log lines, never the Telegram id itself."""
        if user_id is None:
            return "-"
        return "u" + self._digest("log", user_id).hex()[:10]

    def asker_number(self, ticket_id: str) -> int:
        """A 4-digit number for 'Vraagsteller NNNN', fresh per ticket so tickets don't link."""
        return 1000 + int.from_bytes(self._digest("asker", ticket_id)[:4], "big") % 9000
