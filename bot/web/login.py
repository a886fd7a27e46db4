"""One-time dashboard login links: signed, valid 10 minutes, usable once."""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis.asyncio import Redis

from bot.web import keys

LINK_TTL_SECONDS = 10 * 60
_SALT = "vraagbaak-dashboard-login"


class LoginLinks:
    """Issues and redeems the links the bot's /dashboard command sends."""

    def __init__(self, redis: Redis, secret: bytes) -> None:
        self.redis = redis
        self.signer = URLSafeTimedSerializer(secret, salt=_SALT)

    async def issue(self, user_id: int) -> str:
        """A token for this person; the id stays in Redis, the token only names a nonce."""
        nonce = secrets.token_urlsafe(16)
        await self.redis.set(keys.login(nonce), user_id, ex=LINK_TTL_SECONDS)
        return self.signer.dumps(nonce)

    async def redeem(self, token: str) -> int | None:
        """The Telegram id the token was issued to; None if forged, expired or used before."""
        try:
            nonce = self.signer.loads(token, max_age=LINK_TTL_SECONDS)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(nonce, str):
            return None
        # GETDEL: of two requests racing with one link, only one gets the id.
        user_id = await self.redis.getdel(keys.login(nonce))
        return int(user_id) if user_id else None
