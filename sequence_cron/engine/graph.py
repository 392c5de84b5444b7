"""A campaign's nodes and edges compiled into a lookup of next nodes, or the reason it is broken."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sequence_cron.engine.nodes import Node, parse_node

EDGE_KINDS = ("Default", "Timeout")


@dataclass(frozen=True)
class CampaignGraph:
    campaign_id: uuid.UUID
    version: tuple
    nodes: dict[uuid.UUID, Node] = field(default_factory=dict)
    # (from node id, edge kind) -> the live nodes that edge kind leads to, in a stable order.
    next_nodes: dict[tuple[uuid.UUID, str], tuple[Node, ...]] = field(default_factory=dict)
    broken_reason: str | None = None

    def successors(self, node_id: uuid.UUID, edge_kind: str) -> tuple[Node, ...]:
        return self.next_nodes.get((node_id, edge_kind), ())


def compile_graph(
    campaign_id: uuid.UUID, version: tuple, node_rows: Iterable[Any], edge_rows: Iterable[Any]
) -> CampaignGraph:
    """Compile live nodes and edges; a structural problem yields a graph with `broken_reason` set.

    `node_rows` are the campaign's campaign_nodes rows including soft-deleted ones; `edge_rows` are
    the non-deleted edges whose "fromId" is a node of this campaign.
    """
    all_ids = set()
    nodes: dict[uuid.UUID, Node] = {}
    for row in node_rows:
        all_ids.add(row["id"])
        if row["deletedAt"] is None:
            nodes[row["id"]] = parse_node(row)

    next_ids: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
    for edge in sorted(edge_rows, key=lambda edge: (edge["createdAt"], str(edge["id"]))):
        if edge["fromId"] not in nodes:
            continue  # An edge out of a deleted node can never be followed, wherever it points.
        problem = _edge_problem(edge, nodes, all_ids)
        if problem is not None:
            return CampaignGraph(campaign_id, version, broken_reason=problem)
        targets = next_ids.setdefault((edge["fromId"], edge["edgeKind"]), [])
        if edge["toId"] not in targets:
            targets.append(edge["toId"])

    cycle = _find_cycle(next_ids)
    if cycle is not None:
        path = " -> ".join(str(node_id) for node_id in cycle)
        return CampaignGraph(campaign_id, version, broken_reason=f"the graph has a cycle: {path}")

    next_nodes = {key: tuple(nodes[node_id] for node_id in ids) for key, ids in next_ids.items()}
    return CampaignGraph(campaign_id, version, nodes=nodes, next_nodes=next_nodes)


def _edge_problem(edge: Any, nodes: dict[uuid.UUID, Node], all_ids: set[uuid.UUID]) -> str | None:
    edge_id, to_id = edge["id"], edge["toId"]
    if edge["edgeKind"] not in EDGE_KINDS:
        return f"edge {edge_id} has unknown kind {edge['edgeKind']!r}, expected Default or Timeout"
    if to_id not in all_ids:
        return f"edge {edge_id} points to node {to_id}, which is not a node of this campaign"
    if to_id not in nodes:
        return f"edge {edge_id} points to node {to_id}, which is deleted"
    if nodes[to_id].is_entry:
        return f"edge {edge_id} points into entry node {to_id} ({nodes[to_id].kind})"
    return None


def _find_cycle(next_ids: dict[tuple[uuid.UUID, str], list[uuid.UUID]]) -> list[uuid.UUID] | None:
    """Return one cycle as a list of node ids that starts and ends on the same node, or None."""
    adjacency: dict[uuid.UUID, list[uuid.UUID]] = {}
    for (from_id, _kind), targets in next_ids.items():
        adjacency.setdefault(from_id, []).extend(targets)

    visiting, done = 1, 2
    marks: dict[uuid.UUID, int] = {}
    for start in adjacency:
        if start in marks:
            continue
        # Iterative depth-first search, so a long chain of nodes cannot exhaust the Python stack.
        path = [start]
        marks[start] = visiting
        stack = [iter(adjacency.get(start, ()))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                marks[path.pop()] = done
                stack.pop()
            elif marks.get(child) == visiting:
                return path[path.index(child):] + [child]
            elif child not in marks:
                marks[child] = visiting
                path.append(child)
                stack.append(iter(adjacency.get(child, ())))
    return None
