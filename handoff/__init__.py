"""People and the expert handoff: profiles, the queue, claims and relays, all held in Redis."""
