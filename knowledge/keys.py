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


def received(user_id: int) -> str:
    """List of the guidance cards a user actually received (answers and pressed buttons),
    kept briefly so an expert sees what the asker already read."""
    return f"{PREFIX}:received:{user_id}"


def votes(user_id: int) -> str:
    """Hash snippet id -> 1 (helps) or 0 (does not help): a user's own votes, briefly."""
    return f"{PREFIX}:votes:{user_id}"


def trends() -> str:
    """Stream of anonymous answered-question rows (and later flags) for the trends table."""
    return f"{PREFIX}:trends"


def trend_last(user_id: int) -> str:
    """Hash with the random row key and snippet of a user's last answered question, briefly."""
    return f"{PREFIX}:trend_last:{user_id}"


def snippet_served() -> str:
    """Hash snippet id -> times it was the first guidance served."""
    return f"{PREFIX}:snippet_served"


def snippet_handoff() -> str:
    """Hash snippet id -> times a handoff to an expert followed it."""
    return f"{PREFIX}:snippet_handoff"


def knowledge_generation() -> str:
    """Counter raised by every publication: each desk process reloads when it changes."""
    return f"{PREFIX}:knowledge:generation"


def knowledge_status() -> str:
    """Hash: the last reload's generation, outcome, duration and (on failure) reason."""
    return f"{PREFIX}:knowledge:status"


def knowledge_editors() -> str:
    """Set of experts an admin allowed to write knowledge drafts."""
    return f"{PREFIX}:knowledge:editors"


def gaps() -> str:
    """Stream of consented, not yet anonymised questions (no user id), for the worker."""
    return f"{PREFIX}:gaps"


def gap_consent(user_id: int) -> str:
    """Hash: the question the desk asked this user's consent to keep, briefly (an hour)."""
    return f"{PREFIX}:gap_consent:{user_id}"


def voted(user_id: int) -> str:
    """Set of '<answer message id>:<snippet id>' a user's vote was counted for (24 hours)."""
    return f"{PREFIX}:voted:{user_id}"
