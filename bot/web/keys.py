"""Redis keys of the web app: one-time login links, sessions and the webhook streams."""

from handoff.keys import PREFIX


def login(nonce: str) -> str:
    """A pending one-time login link: the Telegram id it was issued to, until used or expired."""
    return f"{PREFIX}:web:login:{nonce}"


def session(session_id: str) -> str:
    """Hash with a dashboard session (user id, CSRF token, language; never a role)."""
    return f"{PREFIX}:web:session:{session_id}"


def webhook() -> str:
    """The single webhook stream of desks before the partitioned feed: emptied into the
    partitions at start-up."""
    return f"{PREFIX}:webhook"


def webhook_partition(partition: int | str) -> str:
    """Stream of the updates Telegram posted to the webhook for one partition of the chats,
    until handled."""
    return f"{PREFIX}:webhook:{partition}"


def webhook_partitions(partitions: int) -> list[str]:
    """Every partition stream (for health checks and metrics)."""
    return [webhook_partition(p) for p in range(partitions)]


def update_seen(update_id: int) -> str:
    """Marks an update as stored by some instance's webhook: Telegram's retry of it, to this
    instance or another, is answered 200 and not stored again."""
    return f"{PREFIX}:update_seen:{update_id}"
