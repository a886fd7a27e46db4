"""Dashboard sessions: set from a one-time link, kept in Redis, checked on every request.

A session holds who logged in, its CSRF token and language, never a role: whether someone is
still in the pool or a coordinator is asked again on every request. Only what a person does
(opening a page, posting a form) renews the idle expiry; the queue page's polling does not."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from bot.web import keys
from bot.web.login import LINK_TTL_SECONDS

COOKIE = "vb_session"
LOGIN_COOKIE = "vb_login"
IDLE_SECONDS = 8 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in expert or admin; `admin` is decided per request, never stored."""

    session_id: str
    user_id: int
    csrf: str
    lang: str
    admin: bool = False


class SessionStore:
    """Creates, loads (renewing the idle expiry when asked) and ends sessions."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def create(self, user_id: int, lang: str) -> Session:
        """A fresh session with its own CSRF token."""
        session = Session(secrets.token_urlsafe(32), user_id, secrets.token_urlsafe(32), lang)
        key = keys.session(session.session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user_id": user_id, "csrf": session.csrf, "lang": lang})
            pipe.expire(key, IDLE_SECONDS)
            await pipe.execute()
        return session

    async def load(self, session_id: str, renew: bool) -> Session | None:
        """The session (its idle expiry renewed if `renew`); None if unknown or expired."""
        if not session_id or len(session_id) > 100:
            return None
        key = keys.session(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            if renew:
                pipe.expire(key, IDLE_SECONDS)
            data = (await pipe.execute())[0]
        if not data.get("user_id"):
            return None
        return Session(session_id, int(data["user_id"]), data["csrf"], data.get("lang", "nl"))

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
    return same_token(session.csrf, submitted)


def same_token(expected: str | None, submitted: str | None) -> bool:
    """Both tokens present and equal (compared in constant time)."""
    return bool(expected) and bool(submitted) and hmac.compare_digest(expected or "",
                                                                      submitted or "")


def set_login_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    """Binds the login form to this browser: a cross-site post does not carry the cookie."""
    response.set_cookie(LOGIN_COOKIE, token, max_age=LINK_TTL_SECONDS,
                        path="/dashboard/login", httponly=True, secure=secure, samesite="Strict")
