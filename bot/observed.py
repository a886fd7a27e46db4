"""The handoff store as the bot process runs it: counted for metrics and trends.

Wiring only: every rule stays in HandoffStore; this records that something happened."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot import metrics
from handoff.tickets import ClaimResult, HandoffStore, Ticket
from knowledge.trends import TrendRecorder


class ObservedHandoffStore(HandoffStore):
    """HandoffStore that counts claims, closes and time to claim, and marks trend rows."""

    trends: TrendRecorder

    def attach(self, trends: TrendRecorder) -> ObservedHandoffStore:
        """Where 'a handoff followed this question' is recorded."""
        self.trends = trends
        return self

    async def open(self, user_id: int, lang: str, topic: str, sector: str, region: str,
                   urgent: bool, snippets: Iterable[str] = (),
                   votes: Mapping[str, bool] | None = None) -> Ticket:
        """Open as HandoffStore does; a new ticket marks the user's last question row."""
        had_open = await self.ticket_of_user(user_id) is not None
        ticket = await super().open(user_id, lang, topic, sector, region, urgent, snippets,
                                    votes)
        if not had_open:
            await self.trends.handoff(user_id)
        return ticket

    async def claim(self, ticket_id: str, expert_id: int, max_conversations: int,
                    where: tuple[str, str] | None = None) -> ClaimResult:
        """Claim as HandoffStore does; count it and how long the asker waited."""
        before = await self.get(ticket_id)
        if where is None and before is not None:
            where = (before.lang, before.topic)  # already read: the store need not read it
        result = await super().claim(ticket_id, expert_id, max_conversations, where)
        if result is ClaimResult.OK and before is not None and before.expert_id is None:
            metrics.CLAIMED.inc()
            metrics.TIME_TO_CLAIM.observe(max(0.0, self.clock() - before.queued_at))
        return result

    async def forget_user(self, user_id: int) -> list[Ticket]:
        """Forget as HandoffStore does, and the pointer to the user's last trend row."""
        held = await super().forget_user(user_id)
        await self.trends.forget(user_id)
        return held

    async def close(self, ticket_id: str, summary: str, outcome: str,
                    *args: str, **kwargs: str) -> Ticket | None:
        """Close as HandoffStore does (whatever else it takes); count it."""
        ticket = await super().close(ticket_id, summary, outcome, *args, **kwargs)
        if ticket is not None:
            metrics.CLOSED.inc()
        return ticket
