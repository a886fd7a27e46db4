"""Redis keys of the knowledge package."""

PREFIX = "vb"


def feedback(snippet_id: str) -> str:
    """Hash counting helpful / not helpful per snippet; no user attached."""
    return f"{PREFIX}:feedback:{snippet_id}"


def feedback_index() -> str:
    """Set of snippet ids that have feedback."""
    return f"{PREFIX}:feedback:index"


def last_answer(user_id: int) -> str:
    """Hash with the topic, urgency and snippets last served to a user."""
    return f"{PREFIX}:last:{user_id}"


def asked(user_id: int) -> str:
    """List of a user's recent questions, kept briefly so an expert can read them."""
    return f"{PREFIX}:asked:{user_id}"
