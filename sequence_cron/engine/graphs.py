"""Fetch the graphs of running campaigns through the cache, compiling only what changed."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sequence_cron.engine.cache import GraphCache
from sequence_cron.engine.graph import CampaignGraph, compile_graph
from sequence_cron.storage import store


async def load_graphs(
    connection, cache: GraphCache, versions: dict[uuid.UUID, tuple], campaign_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CampaignGraph]:
    """Return the graph of each campaign, from the cache when its version is unchanged."""
    graphs: dict[uuid.UUID, CampaignGraph] = {}
    stale = []
    for campaign_id in campaign_ids:
        graph = cache.get(campaign_id, versions[campaign_id])
        if graph is None:
            stale.append(campaign_id)
        else:
            graphs[campaign_id] = graph
    if not stale:
        return graphs

    nodes_by_campaign = defaultdict(list)
    for row in await store.campaign_nodes(connection, stale):
        nodes_by_campaign[row["campaignId"]].append(row)
    edges_by_campaign = defaultdict(list)
    for row in await store.campaign_edges(connection, stale):
        edges_by_campaign[row["campaign_id"]].append(row)

    for campaign_id in stale:
        graph = compile_graph(
            campaign_id, versions[campaign_id], nodes_by_campaign[campaign_id], edges_by_campaign[campaign_id]
        )
        cache.put(graph)
        graphs[campaign_id] = graph
    return graphs
