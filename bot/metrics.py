"""Prometheus metrics of the bot process. Labels are kinds and topics, never a person or text."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UPDATES = Counter("vraagbaak_updates_handled_total", "Updates handled, by type", ["type"])
REPLIES = Counter("vraagbaak_replies_sent_total", "Bot API calls that send or edit a message",
                  ["method"])
LATENCY = Histogram("vraagbaak_handler_seconds", "Time to handle one update",
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ERRORS = Counter("vraagbaak_errors_total", "Errors while handling updates, by exception type",
                 ["kind"])
QUEUE = Gauge("vraagbaak_queue_length", "Conversations waiting for an expert", ["urgency"])
CLAIMED = Counter("vraagbaak_tickets_claimed_total", "Conversations taken by an expert")
CLOSED = Counter("vraagbaak_tickets_closed_total", "Conversations closed by an expert")
TIME_TO_CLAIM = Histogram("vraagbaak_time_to_claim_seconds",
                          "Waiting time from queueing to an expert's claim",
                          buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400))
TOPICS = Counter("vraagbaak_triage_topics_total", "Questions answered, by triaged topic",
                 ["topic"])
NO_CARD = Counter("vraagbaak_questions_without_card_total",
                  "Questions the knowledge does not cover (the desk said so)")
WEAK_FIT = Counter("vraagbaak_questions_weak_fit_total",
                   "Questions answered with a card that may not fit (the desk said so)")
SECOND_CARD = Counter("vraagbaak_questions_second_card_total",
                      "Questions answered with two cards in full (the ranking was close)")
VOTES = Counter("vraagbaak_snippet_votes_total", "Helps / does not help votes", ["vote"])
WORKER_LAG = Gauge("vraagbaak_worker_pending",
                   "Entries waiting in a work stream (summaries, trends, webhook)", ["stream"])
DEAD_LETTERS = Counter("vraagbaak_updates_dead_lettered_total",
                       "Updates moved aside unhandled (unreadable, or failing every attempt)",
                       ["reason"])
FEED_PARTITIONS = Gauge("vraagbaak_feed_partitions_owned",
                        "Webhook feed partitions this instance owns")
TAKEN_OVER = Counter("vraagbaak_feed_updates_taken_over_total",
                     "Pending webhook updates claimed from a previous owner of a partition")

# Bot API methods that put something in front of a person.
SENDING_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup",
                             "sendDocument", "sendPhoto"})


def update_type(update: object) -> str:
    """The kind of an update (message, callback_query, …) for the updates counter."""
    for kind in ("message", "edited_message", "callback_query"):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


def observe_update(update: object, seconds: float) -> None:
    """Count a handled update and its handling time."""
    UPDATES.labels(type=update_type(update)).inc()
    LATENCY.observe(seconds)


def observe_request(url: str) -> None:
    """Count a Bot API call that sends or edits a message (the method is the URL's last part)."""
    method = url.rsplit("/", 1)[-1]
    if method in SENDING_METHODS:
        REPLIES.labels(method=method).inc()
