"""What the dashboard changes in the expert pool, in one place: through the handoff service,
so the dashboard applies exactly the rules the Telegram handlers do. What the service says
must be told to people goes on the outbox, which the running bot delivers within seconds."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.context import Desk
from handoff.notices import Kind


async def invite_expert(desk: Desk, display_name: str, expertise: Iterable[str],
                        languages: Iterable[str]) -> str:
    """A single-use invite code, the same as /uitnodigen creates."""
    return await desk.experts.create_invite(display_name, tuple(expertise), tuple(languages))


async def pause_expert(desk: Desk, expert_id: int) -> bool:
    """Take an expert off duty (they keep the conversations they hold); False if unknown."""
    result = await desk.service.set_available(expert_id, False)
    if result.refused is not None:
        return False
    await desk.outbox.put(result.notices)
    return True


async def remove_expert(desk: Desk, expert_id: int) -> int | None:
    """Requeue what the expert holds (askers are told), then drop them from the pool; the
    number requeued, None if unknown."""
    result = await desk.service.remove_expert(expert_id)
    if result.refused is not None:
        return None
    await desk.outbox.put(result.notices)
    return sum(1 for n in result.notices if n.kind is Kind.REQUEUED_EXPERT_LEFT)
