"""Redis keys of the handoff package (people, tickets, experts)."""

PREFIX = "vb"


def user(user_id: int) -> str:
    """Hash with a user's role and language."""
    return f"{PREFIX}:user:{user_id}"
