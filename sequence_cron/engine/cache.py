"""Compiled campaign graphs kept between ticks, checked against a cheap version once per tick."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from sequence_cron.engine.graph import CampaignGraph


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    rebuilds: int = 0
    evictions: int = 0


class GraphCache:
    """A least-recently-used map of campaign id to graph, bounded in size and in age.

    A hit needs the graph's version to equal the version read from the database in this tick. A
    differing version counts as a rebuild, and an absent or expired entry as a miss.
    """

    def __init__(self, max_size: int, ttl_s: float, monotonic=time.monotonic):
        self.max_size = max_size
        self.ttl_s = ttl_s
        self.stats = CacheStats()
        self._monotonic = monotonic
        self._entries: OrderedDict[uuid.UUID, tuple[float, CampaignGraph]] = OrderedDict()

    def get(self, campaign_id: uuid.UUID, version: tuple) -> CampaignGraph | None:
        """Return the cached graph when it is fresh and of this version; count the outcome."""
        entry = self._entries.get(campaign_id)
        if entry is None:
            self.stats.misses += 1
            return None
        stored_at, graph = entry
        if self._monotonic() - stored_at > self.ttl_s:
            del self._entries[campaign_id]
            self.stats.misses += 1
            return None
        if graph.version != version:
            self.stats.rebuilds += 1
            return None
        self._entries.move_to_end(campaign_id)
        self.stats.hits += 1
        return graph

    def put(self, graph: CampaignGraph) -> None:
        self._entries[graph.campaign_id] = (self._monotonic(), graph)
        self._entries.move_to_end(graph.campaign_id)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)
            self.stats.evictions += 1

    def __len__(self) -> int:
        return len(self._entries)

    def describe(self) -> dict:
        return {
            "size": len(self._entries),
            "max_size": self.max_size,
            "ttl_s": self.ttl_s,
            "hits": self.stats.hits,
            "misses": self.stats.misses,
            "rebuilds": self.stats.rebuilds,
            "evictions": self.stats.evictions,
        }
