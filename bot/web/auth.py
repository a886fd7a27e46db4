"""Dashboard sessions: set from a one-time link, kept in Redis, checked on every request."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from bot.web import keys

COOKIE = "vb_session"
IDLE_SECONDS = 8 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in expert or admin."""

    session_id: str
    user_id: int
    admin: bool
    csrf: str
    lang: str


class SessionStore:
    """Creates, loads (renewing the idle expiry) and ends sessions."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def create(self, user_id: int, admin: bool, lang: str) -> Session:
        """A fresh session with its own CSRF token."""
        session = Session(secrets.token_urlsafe(32), user_id, admin, secrets.token_urlsafe(32),
                          lang)
        key = keys.session(session.session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user_id": user_id, "admin": int(admin),
                                    "csrf": session.csrf, "lang": lang})
            pipe.expire(key, IDLE_SECONDS)
            await pipe.execute()
        return session

    async def load(self, session_id: str) -> Session | None:
        """The session, its idle expiry renewed; None if unknown or expired."""
        if not session_id or len(session_id) > 100:
            return None
        key = keys.session(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.expire(key, IDLE_SECONDS)
            data, _ = await pipe.execute()
        if not data.get("user_id"):
            return None
        return Session(session_id, int(data["user_id"]), data.get("admin") == "1",
                       data["csrf"], data.get("lang", "nl"))

    async def end(self, session_id: str) -> None:
        """Log out."""
        await self.redis.delete(keys.session(session_id))


def is_secure(request: web.Request, public_url: str) -> bool:
    """Whether the browser reaches us over https (directly or behind the reverse proxy)."""
    return request.secure or public_url.startswith("https://")


def set_cookie(response: web.StreamResponse, session: Session, secure: bool) -> None:
    """The session cookie: not readable by scripts, never sent cross-site."""
    response.set_cookie(COOKIE, session.session_id, max_age=IDLE_SECONDS, path="/dashboard",
                        httponly=True, secure=secure, samesite="Strict")


def csrf_ok(session: Session, submitted: str | None) -> bool:
    """The form carried this session's CSRF token."""
    return bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")
