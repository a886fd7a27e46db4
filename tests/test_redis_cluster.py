"""The test Redis cluster (primary, replica, three Sentinels) fails over as Sentinel should,
so the multi-instance tests stand on real failover, not on a stand-in."""

from __future__ import annotations

from pathlib import Path

from redis.sentinel import Sentinel

from tests.redis_cluster import SERVICE, RedisCluster


def test_sentinels_promote_the_replica_when_the_primary_is_killed(tmp_path: Path) -> None:
    with RedisCluster(tmp_path, replicas=1, sentinels=3) as cluster:
        hosts = [(a.split(":")[0], int(a.split(":")[1])) for a in cluster.sentinel_addresses]
        sentinel = Sentinel(hosts, socket_timeout=1)
        primary = sentinel.master_for(SERVICE, socket_timeout=1)
        primary.set("before", "1")
        primary.wait(1, 2000)  # on the replica before the primary dies
        old = cluster.primary_port
        cluster.kill("primary")
        new = cluster.wait_for_failover()
        assert new == cluster.ports["replica1"] != old
        fresh = sentinel.master_for(SERVICE, socket_timeout=1)
        assert fresh.get("before") == b"1"
        fresh.set("after", "2")
        cluster.start_node("primary")  # the old primary comes back as a replica
        assert fresh.get("after") == b"2"
