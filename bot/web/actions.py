"""What the dashboard changes in the expert pool, in one place.

The Telegram handlers and the dashboard must apply the same rules; these functions are the
dashboard's only way in, so moving them onto the handoff service is a change here alone."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.context import Desk


async def invite_expert(desk: Desk, display_name: str, expertise: Iterable[str],
                        languages: Iterable[str]) -> str:
    """A single-use invite code, the same as /uitnodigen creates."""
    return await desk.experts.create_invite(display_name, tuple(expertise), tuple(languages))


async def pause_expert(desk: Desk, expert_id: int) -> bool:
    """Take an expert off duty (they keep the conversations they hold); False if unknown."""
    return await desk.experts.set_available(expert_id, False)


async def remove_expert(desk: Desk, expert_id: int) -> int | None:
    """Requeue what the expert holds, then drop them; the number requeued, None if unknown."""
    if not await desk.experts.is_expert(expert_id):
        return None
    await desk.experts.set_available(expert_id, False)
    held = await desk.handoff.active_for_expert(expert_id)
    requeued = [ticket for ticket in held if await desk.handoff.requeue(ticket.id) is not None]
    await desk.experts.remove(expert_id)
    return len(requeued)
