"""The desk on Redis Sentinel: its clients follow the primary through a failover, its worker is
told the same Sentinels, and an erasure's AOF rewrite reaches the replicas too."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio

from bot.redis_server import Sentinels, node_client, redis_for_settings
from bot.runtime import desk_services
from bot.settings import Settings
from bot.worker import worker_env
from handoff import handoff_keys as keys
from handoff.erasure import AofRewriter, request_rewrite
from tests.redis_cluster import HOST, SERVICE, RedisCluster

pytestmark = pytest.mark.timeout(120)
ASKER = 4242


@pytest.fixture
def cluster(tmp_path: Path):
    with RedisCluster(tmp_path, replicas=1, sentinels=3) as started:
        yield started


def on_sentinels(settings: Settings, cluster: RedisCluster) -> Settings:
    return settings.model_copy(update={"redis_url": None,
                                       "redis_sentinels": cluster.sentinel_addresses,
                                       "redis_sentinel_service": SERVICE})


async def test_the_desk_keeps_working_through_a_failover(settings: Settings,
                                                         cluster: RedisCluster) -> None:
    sentinel_settings = on_sentinels(settings, cluster)
    async with desk_services(sentinel_settings) as desk:
        before = await desk.handoff.open(ASKER, "nl", "signals", "onderwijs", "Utrecht", False)
        await desk.redis.wait(1, 2000)  # on the replica before the primary goes
        old = cluster.primary_port
        cluster.kill("primary")  # the machine under the primary dies
        # The desk goes on at once: its next commands wait out the failover and land on the
        # promoted replica (no restart, no reconfiguration).
        await desk.handoff.add_message(before.id, "user", "nog een vraag")
        new = await asyncio.to_thread(cluster.wait_for_failover)
        assert new == cluster.ports["replica1"] != old
        after = await desk.handoff.open(ASKER + 1, "en", "signals", "onderwijs", "Utrecht",
                                        False)
        promoted = redis.Redis(host=HOST, port=new, decode_responses=True)
        try:
            assert promoted.hget(keys.ticket(before.id), "state") == "queued"
            assert promoted.hget(keys.ticket(after.id), "state") == "queued"
            assert [m["text"] for m in await desk.handoff.transcript(before.id)] == [
                "nog een vraag"]
        finally:
            promoted.close()


async def test_a_forced_failover_is_followed_by_the_same_client(settings: Settings,
                                                                cluster: RedisCluster) -> None:
    async with redis_for_settings(on_sentinels(settings, cluster)) as client:
        await client.set("vb:test:counter", 0)
        await client.wait(1, 2000)
        sentinel = redis.Redis(host=HOST, port=cluster.sentinel_ports[0])
        sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)  # a planned switch-over
        sentinel.close()
        old = redis.Redis(host=HOST, port=cluster.ports["primary"], decode_responses=True)
        deadline = time.monotonic() + 30
        while old.info("replication")["role"] != "slave":
            assert time.monotonic() < deadline, "no switch-over"
            # Writes go on meanwhile (those in the last moment before the old primary turns
            # replica may be lost: replication is asynchronous, as the README says).
            await client.incr("vb:test:counter")
            await asyncio.sleep(0.05)
        old.close()
        # The client moved over by itself: the demoted primary refuses writes (READONLY),
        # which sends it to the Sentinels for the new one.
        for _ in range(20):
            await client.incr("vb:test:counter")
        count = int(await client.get("vb:test:counter"))
        assert count >= 20
        new = cluster.sentinel_primary(0)
        assert new == cluster.ports["replica1"]
        promoted = redis.Redis(host=HOST, port=new, decode_responses=True)
        try:
            assert int(promoted.get("vb:test:counter")) == count
        finally:
            promoted.close()


def test_the_worker_is_told_the_same_sentinels(settings: Settings, cluster: RedisCluster,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    desk = on_sentinels(settings, cluster).model_copy(update={"instance_id": "desk-a"})
    for name, value in worker_env(desk).items():
        monkeypatch.setenv(name, value)
    child = Settings(_env_file=None)  # type: ignore[call-arg]  # as the worker reads them
    assert child.redis_sentinels == cluster.sentinel_addresses
    assert child.redis_sentinel_service == SERVICE
    assert child.instance == "desk-a"  # its heartbeat is this instance's


def _aof_text(node_dir: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in node_dir.rglob("*.aof*")
                   if path.is_file())


def _rewrites_done(port: int) -> bool:
    client = redis.Redis(host=HOST, port=port)
    try:
        info = client.info("persistence")
        return info["aof_rewrite_in_progress"] == 0 and info["aof_rewrite_scheduled"] == 0
    finally:
        client.close()


async def test_an_erasure_rewrite_reaches_the_replica(settings: Settings,
                                                      cluster: RedisCluster) -> None:
    sentinel_settings = on_sentinels(settings, cluster)
    replica_dir = cluster.dir / "replica1"
    async with redis_for_settings(sentinel_settings) as client:
        await client.set("vb:test:question", "mijn zoon praat over de aanslag")
        await client.wait(1, 2000)
        deadline = time.monotonic() + 10
        while "mijn zoon praat" not in _aof_text(replica_dir):  # fsynced every second
            assert time.monotonic() < deadline, "the replica's AOF never held the question"
            await asyncio.sleep(0.1)
        await client.delete("vb:test:question")  # /vergeet
        await request_rewrite(client)
        rewriter = AofRewriter(client, replica=functools.partial(node_client,
                                                                 sentinel_settings))
        assert await rewriter.tick()
        deadline = time.monotonic() + 20
        while not all(_rewrites_done(port) for port in cluster.ports.values()):
            assert time.monotonic() < deadline, "the rewrites did not finish"
            await asyncio.sleep(0.1)
    assert "mijn zoon praat" not in _aof_text(replica_dir)
    assert "mijn zoon praat" not in _aof_text(cluster.dir / "primary")


async def test_a_replica_missed_at_the_rewrite_is_asked_again_a_minute_later(
        settings: Settings, cluster: RedisCluster) -> None:
    sentinel_settings = on_sentinels(settings, cluster)
    asked: list[int] = []
    reachable = False

    def replica(host: str, port: int) -> redis.asyncio.Redis:
        asked.append(port)
        # Unreachable at first (a network hiccup): a port nobody listens on.
        return node_client(sentinel_settings, host, port if reachable else 1)

    now = [1000.0]
    async with redis_for_settings(sentinel_settings) as client:
        rewriter = AofRewriter(client, min_interval=60, clock=lambda: now[0], replica=replica)
        await request_rewrite(client)
        assert await rewriter.tick()
        assert asked == [cluster.ports["replica1"]]
        await rewriter.tick()
        assert len(asked) == 1  # not hammered: a minute between tries
        reachable = True
        now[0] += 61
        while not _rewrites_done(cluster.primary_port):  # the primary's rewrite is done
            await asyncio.sleep(0.1)
        await rewriter.tick()
        assert asked == [cluster.ports["replica1"]] * 2  # asked again, and it worked
        assert not rewriter._replicas_missed


async def test_discoveries_at_once_keep_every_sentinel_and_close_them_all(
        settings: Settings, cluster: RedisCluster) -> None:
    """After a failover every connection asks the Sentinels at once. redis-py's own discovery
    then drops a Sentinel from its list (never asked again, its connections never closed:
    they failed a later test with ResourceWarnings in a CI run). Ours keeps all three."""
    dead = cluster.sentinel_ports[0]
    cluster.kill("sentinel1")  # does not answer: the next one is asked
    sentinel_settings = on_sentinels(settings, cluster)
    async with redis_for_settings(sentinel_settings) as client:
        manager = client.connection_pool.sentinel_manager
        assert isinstance(manager, Sentinels)
        everyone = set(map(id, manager.sentinels))
        # The dead one first again (the PING's discovery moved the one that answered up).
        manager.sentinels.sort(
            key=lambda s: s.connection_pool.connection_kwargs["port"] != dead)
        found = await asyncio.gather(*(manager.discover_master(SERVICE) for _ in range(8)))
        assert {port for _host, port in found} == {cluster.primary_port}
        assert set(map(id, manager.sentinels)) == everyone and len(manager.sentinels) == 3
        asked = [s for s in manager.sentinels if s.connection_pool._available_connections]
        assert len(asked) == 2  # the two that answer, with the connections they opened
        await client.ping()
    for sentinel in manager.sentinels:  # closed on the way out, each of them
        pool = sentinel.connection_pool
        assert not any(c.is_connected for c in (*pool._available_connections,
                                                *pool._in_use_connections))
