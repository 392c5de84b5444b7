"""Measurements around a tick: peak RSS, a local SMTP server and a /health client.

The SMTP server and the /health client run as child processes of their own, so that their work
neither adds to the engine process's RSS nor waits on its event loop.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from pathlib import Path

import aiohttp

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS of this process (VmHWM) to the current RSS; False where unsupported."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """Return this process's peak RSS since start or since the last reset_peak_rss()."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux and cannot be reset.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class CountingHandler:
    """An aiosmtpd handler that accepts every message and only counts it."""

    def __init__(self):
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        return "250 OK"


async def serve_smtp() -> None:
    """Serve SMTP on a free port of 127.0.0.1 until standard input closes.

    Prints the port as the first line of standard output and the message count as JSON at the end.
    """
    from aiosmtpd.smtp import SMTP

    handler = CountingHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="bench.localhost"), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.to_thread(sys.stdin.read)
    server.close()
    print(json.dumps({"messages": handler.messages}), flush=True)


async def probe_health(url: str, rate: float) -> None:
    """GET `url` `rate` times a second on a fixed schedule until standard input closes.

    Each request starts at its scheduled time whether or not earlier ones have returned, so a
    stalled server shows up as latency instead of as fewer requests. Prints one JSON object:
    a list of [start, latency s, status] with start on the system-wide monotonic clock.
    """
    samples: list[list] = []
    interval = 1 / rate
    stopped = asyncio.ensure_future(asyncio.to_thread(sys.stdin.read))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def get_once(start: float) -> None:
            try:
                async with session.get(url) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                status = type(error).__name__
            samples.append([start, time.monotonic() - start, status])

        requests = []
        next_at = time.monotonic()
        while not stopped.done():
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            requests.append(asyncio.ensure_future(get_once(next_at)))
            next_at += interval
        await asyncio.gather(*requests)
    print(json.dumps({"samples": samples}), flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values` (not empty), `fraction` from 0 to 1."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
