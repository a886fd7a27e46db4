"""What the dashboard changes in the expert pool, in one place: through the handoff service,
so the dashboard applies exactly the rules the Telegram handlers do. What the service says
must be told to people goes on the outbox, which the running bot delivers within seconds."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.context import Desk
from handoff.notices import Kind, Refusal


async def invite_expert(desk: Desk, actor: int, display_name: str, expertise: Iterable[str],
                        languages: Iterable[str]) -> str | Refusal:
    """A single-use invite code, the same as /uitnodigen creates; or why not (`actor` may
    not, or the name is taken in the pool)."""
    return await desk.service.create_invite(actor, display_name, expertise, languages)


async def pause_expert(desk: Desk, actor: int, expert_id: int) -> bool:
    """Take an expert off duty (they keep the conversations they hold); False if unknown or
    `actor` may not."""
    result = await desk.service.pause_expert(actor, expert_id)
    if result.refused is not None:
        return False
    await desk.outbox.put(result.notices)
    return True


async def remove_expert(desk: Desk, actor: int, expert_id: int) -> int | None:
    """Requeue what the expert holds (askers are told), then drop them from the pool; the
    number requeued, None if unknown or `actor` may not."""
    result = await desk.service.remove_expert(expert_id, actor)
    if result.refused is not None:
        return None
    await desk.outbox.put(result.notices)
    return sum(1 for n in result.notices if n.kind is Kind.REQUEUED_EXPERT_LEFT)
