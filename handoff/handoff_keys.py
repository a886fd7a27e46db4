"""Redis keys of the expert handoff: tickets, the queue, experts and invites."""

from handoff.keys import PREFIX


def ticket(ticket_id: str) -> str:
    """Hash with one ticket; the only place that holds the asker's Telegram id."""
    return f"{PREFIX}:ticket:{ticket_id}"


def queue() -> str:
    """Sorted set of queued ticket ids; the score encodes urgency, requeues and age."""
    return f"{PREFIX}:queue"


def queue_slice(lang: str, topic: str) -> str:
    """Sorted set of the queued tickets in one language and topic, scored as in the queue."""
    return f"{PREFIX}:queue_slice:{lang}:{topic}"


def queue_slices() -> str:
    """Set of the (language, topic) slices that may hold queued tickets, each a JSON pair."""
    return f"{PREFIX}:queue_slices"


def queue_sliced() -> str:
    """Exists once every queued ticket is also in its slice (set when the queue was empty, or
    by the one-off sorting of tickets queued before slices existed)."""
    return f"{PREFIX}:queue_sliced"


def active() -> str:
    """Set of ticket ids that an expert holds, for the timeout sweep."""
    return f"{PREFIX}:active"


def user_ticket(user_id: int) -> str:
    """The id of a user's open ticket; exists exactly while that ticket is open."""
    return f"{PREFIX}:user_ticket:{user_id}"


def user_history(user_id: int) -> str:
    """Set of a user's recent ticket ids, so /forget also reaches closed conversations."""
    return f"{PREFIX}:user_history:{user_id}"


def transcript(ticket_id: str) -> str:
    """List of JSON messages of a conversation, kept until summarised or expired."""
    return f"{PREFIX}:transcript:{ticket_id}"


def summaries() -> str:
    """Stream of closed-ticket jobs for the summariser; never holds a user id."""
    return f"{PREFIX}:summaries"


def summaries_dead() -> str:
    """Stream of summary jobs that kept failing; the key expires before its oldest job's
    transcript would have."""
    return f"{PREFIX}:summaries:dead"


def expert(expert_id: int) -> str:
    """Hash with an expert's profile and availability."""
    return f"{PREFIX}:expert:{expert_id}"


def experts() -> str:
    """Set of the ids of all experts."""
    return f"{PREFIX}:experts"


def expert_tickets(expert_id: int) -> str:
    """Set of the ids of the tickets an expert holds."""
    return f"{PREFIX}:expert_tickets:{expert_id}"


def invite(code: str) -> str:
    """A pending expert invite (JSON), expiring by TTL and deleted on use."""
    return f"{PREFIX}:invite:{code}"


def intake(user_id: int) -> str:
    """Hash with a user's answers during the short intake before queueing."""
    return f"{PREFIX}:intake:{user_id}"




def positions() -> str:
    """Hash ticket id -> the queue position last told to its user."""
    return f"{PREFIX}:positions"


def waits() -> str:
    """List of recent waiting times in seconds, for an honest estimate."""
    return f"{PREFIX}:waits"


def person_state(user_id: int) -> str:
    """Hash with what a person's next plain message means (see handoff.states)."""
    return f"{PREFIX}:state:{user_id}"


def delivery(expert_id: int, message_id: int) -> str:
    """Which conversation a message the bot sent to an expert belongs to (for reply-to)."""
    return f"{PREFIX}:delivery:{expert_id}:{message_id}"
