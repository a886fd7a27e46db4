"""What the handoff service asks the front end to tell people: small typed notices.

The service never sends anything itself; a Telegram handler (or the web dashboard) renders each
notice in the recipient's language and delivers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from handoff.tickets import Ticket


class Kind(StrEnum):
    """What a notice says; the renderer has one text (and keyboard) per kind."""

    # -- to askers --
    INTAKE_START = "intake_start"  # availability + first step
    INTAKE_REGION = "intake_region"
    INTAKE_CONSENT = "intake_consent"
    INTAKE_DECLINED = "intake_declined"
    INTAKE_EXPIRED = "intake_expired"
    STATUS = "status"  # where a request stands (queued or in conversation)
    POSITION = "position"
    CLAIMED = "claimed"
    TAKEN_OVER = "taken_over"  # another expert continues
    REQUEUED_BY_EXPERT = "requeued_by_expert"
    REQUEUED_SILENT = "requeued_silent"
    REQUEUED_EXPERT_LEFT = "requeued_expert_left"
    FROM_EXPERT = "from_expert"
    SNIPPET_FROM_EXPERT = "snippet_from_expert"
    ADDED = "added"  # a message while queued, kept for the expert
    CANCELLED = "cancelled"  # a queued request stopped
    YOU_ENDED = "you_ended"
    RATE_PROMPT = "rate_prompt"
    RATED = "rated"
    COMMENT_SAVED = "comment_saved"
    COMMENT_SKIPPED = "comment_skipped"
    IDLE_CLOSED_ASKER = "idle_closed_asker"
    NO_REQUEST = "no_request"
    # -- to experts --
    ANNOUNCE = "announce"
    CARD = "card"
    FROM_ASKER = "from_asker"
    RECEIPT = "receipt"
    PICK_CONVERSATION = "pick_conversation"
    CONVERSATIONS = "conversations"
    SWITCHED = "switched"
    ASKER_ENDED = "asker_ended"
    ASKER_LEFT = "asker_left"
    ASKER_BLOCKED = "asker_blocked"  # the asker blocked the bot: the conversation ended
    OUTCOME_PROMPT = "outcome_prompt"
    SUMMARY_PROMPT = "summary_prompt"
    FINISH_STEP_FIRST = "finish_step_first"
    STEP_STALE = "step_stale"
    CLOSED = "closed"
    REMINDER = "reminder"
    REQUEUED_NO_ANSWER = "requeued_no_answer"
    IDLE_CLOSED_EXPERT = "idle_closed_expert"
    UNSUMMARISED_CLOSED = "unsummarised_closed"
    NOTE_PROMPT = "note_prompt"
    TRANSFER_TARGETS = "transfer_targets"
    TRANSFERRED = "transferred"
    RETURNED_TO_QUEUE = "returned_to_queue"
    REMOVED_FROM_POOL = "removed_from_pool"
    UNCLAIMED_ALERT = "unclaimed_alert"
    EXPERT_BLOCKED = "expert_blocked"  # to coordinators: an expert blocked the bot
    AVAILABLE = "available"
    AWAY = "away"
    QUEUE_LIST = "queue_list"
    QUEUE_EMPTY = "queue_empty"
    FULL = "full"
    NO_CONVERSATION = "no_conversation"
    SNIPPET_CHOICES = "snippet_choices"
    SNIPPET_SENT = "snippet_sent"
    UNKNOWN_SNIPPET = "unknown_snippet"
    NOT_DELIVERED = "not_delivered"
    REPLY_NOT_HELD = "reply_not_held"  # a reply to an asker whose conversation is not yours
    ASKER_UNREACHABLE = "asker_unreachable"  # a claim's greeting could not be delivered


class Refusal(StrEnum):
    """Why an operation changed nothing; rendered as a short answer to the actor."""

    NOT_EXPERT = "not_expert"
    NOT_ADMIN = "not_admin"
    IS_EXPERT = "is_expert"
    NOT_YOURS = "not_yours"
    GONE = "gone"  # the conversation ended or never existed
    TAKEN = "taken"
    FULL = "full"
    NOT_WAITING = "not_waiting"
    INVALID = "invalid"
    ALREADY_RATED = "already_rated"
    STALE = "stale"  # the step this button belonged to is over
    TARGET_UNAVAILABLE = "target_unavailable"
    NAME_TAKEN = "name_taken"  # another expert of the pool has this display name


@dataclass(frozen=True, slots=True)
class Notice:
    """Tell `to` something of `kind` (about `ticket`, with `params`).

    `replace`: show it in place of the message whose button the actor pressed.
    `failed`: what to tell whom if this notice cannot be delivered.
    `then`: what to tell whom only once this notice was delivered (a receipt)."""

    to: int
    kind: Kind
    ticket: Ticket | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    replace: bool = False
    failed: Notice | None = None
    then: Notice | None = None


@dataclass(slots=True)
class Result:
    """What an operation did: notices to deliver, or the reason it changed nothing."""

    notices: list[Notice] = field(default_factory=list)
    refused: Refusal | None = None

    @classmethod
    def refuse(cls, reason: Refusal) -> Result:
        """Nothing changed, for this reason."""
        return cls(refused=reason)

    def add(self, *notices: Notice) -> Result:
        """Append notices; returns self for chaining."""
        self.notices.extend(notices)
        return self
