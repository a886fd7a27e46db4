"""Redis keys of the web app: one-time login links, sessions and the webhook stream."""

from handoff.keys import PREFIX


def login(nonce: str) -> str:
    """A pending one-time login link: the Telegram id it was issued to, until used or expired."""
    return f"{PREFIX}:web:login:{nonce}"


def session(session_id: str) -> str:
    """Hash with a dashboard session (user id, CSRF token, language; never a role)."""
    return f"{PREFIX}:web:session:{session_id}"


def webhook() -> str:
    """Stream of updates Telegram posted to the webhook, until handled."""
    return f"{PREFIX}:webhook"
