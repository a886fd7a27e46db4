"""Every Redis key of the desk is built here, one prefix per concern."""

PREFIX = "vb"


def user(user_id: int) -> str:
    """Hash with a user's role and language."""
    return f"{PREFIX}:user:{user_id}"


def feedback(snippet_id: str) -> str:
    """Hash counting helpful / not helpful per snippet; no user attached."""
    return f"{PREFIX}:feedback:{snippet_id}"


def feedback_index() -> str:
    """Set of snippet ids that have feedback."""
    return f"{PREFIX}:feedback:index"


def last_answer(user_id: int) -> str:
    """Hash with the topic and snippets last served to a user (for handoff context)."""
    return f"{PREFIX}:last:{user_id}"
