"""`python -m bench.desk_memory`: peak memory of the whole desk as `vraagbaak demo` runs it.

Starts the demo (bot, summariser worker, embedded Redis) in a temporary directory, has users
ask questions through the sandbox's JSON API, puts summary jobs on the worker's stream, and
reads the peak resident set size (VmHWM) of every process of the desk from /proc. All traffic
stays on 127.0.0.1; every wait has a time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import redis

from bot.redis_server import EmbeddedRedis
from handoff import handoff_keys as keys

QUESTIONS = (
    "Mijn leerling deelt memes over omvolking, wat kan ik doen?",
    "Een jongen in mijn wijk praat over IS en Syrië. Wie kan ik bellen?",
    "Hoe praat ik met mijn zoon over complotdenken?",
    "Wat is het verschil tussen Veilig Thuis en het Veiligheidshuis?",
)
SUMMARIES = Path(__file__).parent.parent / "tests" / "data" / "anonymise_fresh.jsonl"
TIMEOUT = 180.0


def _status(pid: int, key: str) -> int:
    """One kB field of /proc/<pid>/status, 0 once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    match = re.search(rf"{key}:\s+(\d+)", text)
    return int(match.group(1)) if match else 0


def _tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [pid] + [p for child in children for p in _tree(int(child))]


def _name(pid: int) -> str:
    """A short name for a process of the desk."""
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    if b"redis-server" in args[0]:  # Redis rewrites its title into one argument
        return "redis-server"
    return " ".join(a.decode() for a in args[1:5] if a)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(port: int, path: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def measure(users: int, rounds: int, jobs: int) -> dict[str, object]:
    """Run the demo under load and return the peak RSS per process and in total (MB)."""
    data_dir = Path(tempfile.mkdtemp(prefix="vraagbaak-memory-"))
    port = _free_port()
    env = dict(os.environ, VRAAGBAAK_DATA_DIR=str(data_dir), VRAAGBAAK_SECRET_KEY="measure")
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--port", str(port)], env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_sum = 0
    try:
        assert demo.stderr is not None
        worker_ready = None
        for line in demo.stderr:
            if "summariser worker ready" in line:
                worker_ready = time.monotonic() - started
                break
            if time.monotonic() - started > TIMEOUT:
                break
        if worker_ready is None:
            raise SystemExit("the desk did not start")
        rows = [json.loads(line) for line in SUMMARIES.open(encoding="utf-8")]
        client = redis.Redis.from_url(EmbeddedRedis(data_dir).url, decode_responses=True)
        for i in range(jobs):
            now = time.time()
            client.xadd(keys.summaries(), {
                "ticket_id": f"m{i}", "summary": rows[i % len(rows)]["text"], "topic": "family",
                "created_at": str(now - 600), "claimed_at": str(now - 300),
                "closed_at": str(now), "lang": "nl", "expert_id": "1"})
        for round_ in range(rounds):
            for user in range(users):
                text = "/start" if round_ == 0 else QUESTIONS[(user + round_) % len(QUESTIONS)]
                _post(port, "/sandbox/api/send",
                      {"user_id": 7_100_000 + user, "text": text, "first_name": "Test"})
            peak_sum = max(peak_sum, sum(_status(p, "VmRSS") for p in _tree(demo.pid)))
            time.sleep(1)
        deadline = time.monotonic() + TIMEOUT
        while client.xlen(keys.summaries()) and time.monotonic() < deadline:
            peak_sum = max(peak_sum, sum(_status(p, "VmRSS") for p in _tree(demo.pid)))
            time.sleep(0.2)
        left = client.xlen(keys.summaries())
        client.close()
        processes = {_name(p): _status(p, "VmHWM") // 1024 for p in _tree(demo.pid)}
        return {"worker_ready_s": round(worker_ready, 1), "jobs_left": left,
                "peak_mb": processes, "sum_of_peaks_mb": sum(processes.values()),
                "peak_of_sum_sampled_mb": peak_sum // 1024}
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()


def main() -> None:
    """Parse the sizes, measure once, print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=200, help="summary jobs for the worker")
    args = parser.parse_args()
    print(json.dumps(measure(args.users, args.rounds, args.jobs), indent=2))


if __name__ == "__main__":
    main()
