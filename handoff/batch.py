"""Several Redis commands as one atomic script call.

A `Batch` takes commands through redis-py's own builders (`batch.hset(...)`,
`batch.xadd(...)`, the same calls as on a pipeline) and `run` sends them as one EVALSHA of a
fixed script that executes them in order and returns each reply. Like MULTI/EXEC, nothing
else runs in between; unlike it, it is one command to pack and one reply to read, where a
transaction of twelve commands costs fourteen of each. On the desk's hot path (the profile
and routing read before a question, and the question's closing write) that halved the client
CPU of those round trips (`bench`, issue 12).

Replies come back as Redis gives them to a script: HGETALL as a flat list of fields and
values, a missing value as None, errors raised as `ResponseError`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import CoreCommands
from redis.exceptions import NoScriptError

# ARGV holds each command as its length followed by its words.
_SCRIPT = """
local out = {}
local i = 1
local n = #ARGV
while i <= n do
  local words = tonumber(ARGV[i])
  out[#out + 1] = redis.call(unpack(ARGV, i + 1, i + words))
  i = i + words + 1
end
return out
"""
_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()


class Batch(CoreCommands):  # type: ignore[misc]
    """Redis commands queued for one atomic `run`."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.commands = 0

    def execute_command(self, *args: Any, **options: Any) -> Batch:
        """Queue one command (what every redis-py builder method ends in)."""
        self.args.append(len(args))
        self.args.extend(args)
        self.commands += 1
        return self

    async def run(self, redis: Redis) -> list[Any]:
        """Execute the queued commands at once; their replies, in order."""
        if not self.commands:
            return []
        try:
            return await redis.evalsha(_SHA, 0, *self.args)  # type: ignore[no-any-return]
        except NoScriptError:  # a new or flushed server: send the script itself once
            return await redis.eval(_SCRIPT, 0, *self.args)  # type: ignore[no-any-return]


def pairs(flat: list[Any] | None) -> dict[str, Any]:
    """HGETALL's reply inside a script (field, value, field, value ...) as a dict."""
    flat = flat or []
    return dict(zip(flat[::2], flat[1::2], strict=True))
