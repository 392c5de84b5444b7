"""One tick of the campaign cron: execute every due state, batch by batch, until none is left."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import datetime

from loguru import logger

from sequence_cron.engine import email_step, filter_step
from sequence_cron.engine.graph import CampaignGraph
from sequence_cron.engine.graphs import load_graphs
from sequence_cron.engine.nodes import Node
from sequence_cron.engine.outcomes import PENDING, Outcome, OutcomeBatch, outcome_label
from sequence_cron.engine.timing import load_zone
from sequence_cron.engine.transitions import NextState, ZoneResolver, next_states
from sequence_cron.services import Services
from sequence_cron.storage import store


class CampaignTick:
    """The state of one tick: the graphs it uses, the campaigns it skips, and what it counted."""

    def __init__(self, services: Services):
        self.services = services
        self.settings = services.settings
        self.started = time.monotonic()
        self.deadline = self.started + self.settings.max_tick_s
        self.zones = ZoneResolver(load_zone(self.settings.default_timezone))
        self.versions: dict[uuid.UUID, tuple] = {}
        self.graphs: dict[uuid.UUID, CampaignGraph] = {}
        self.blocked: dict[uuid.UUID, str] = {}
        # Campaigns that stopped running during this tick; their locked states are left as they are.
        self.gone: set[uuid.UUID] = set()
        self.counts: Counter[str] = Counter()
        self.by_kind: Counter[tuple[str, str]] = Counter()
        self.batches = 0
        self.stopped_early: str | None = None
        # Whether a sort of state (Email, or any other kind) may still have due states. A sort is
        # scanned again only while its last batch came back full, or after a batch wrote next states
        # of that sort that are due at once. The due index does not know node kinds, so a scan that
        # finds nothing reads every due state of the other sort. Repeating it after every batch
        # would make a tick's cost grow with the square of its backlog.
        self.simple_due = True
        self.email_due = True

    def now(self) -> datetime:
        return self.services.clock.now()

    def should_stop(self) -> bool:
        if self.services.stopping.is_set():
            self.stopped_early = "shutdown"
            return True
        if time.monotonic() >= self.deadline:
            self.stopped_early = "max tick duration reached"
            return True
        return False

    async def run(self) -> dict:
        await self.refresh_graphs()
        await filter_step.recheck_waiting_states(self)
        while not self.should_stop() and (self.simple_due or self.email_due):
            if self.simple_due:
                await self.run_simple_batch()
                if self.should_stop():
                    break
            if self.email_due:
                await email_step.run_email_batch(self)
        return self.summary()

    async def lock_due(self, connection, now: datetime, email: bool, limit: int) -> list:
        """Lock a batch of due states of one sort and note whether more of that sort may be due."""
        rows = await store.lock_due_states(connection, now, email, self.skipped_campaigns(), limit)
        if email:
            self.email_due = len(rows) >= limit
        else:
            self.simple_due = len(rows) >= limit
        return rows

    async def refresh_graphs(self) -> None:
        """Read every running campaign's version and take its graph from the cache or compile it."""
        async with self.services.pool.acquire() as connection:
            self.versions = await store.running_campaign_versions(connection)
            self.graphs = await load_graphs(connection, self.services.graphs, self.versions, self.versions.keys())
        for campaign_id, graph in self.graphs.items():
            if graph.broken_reason is not None:
                self.block(campaign_id, graph.broken_reason)

    def skipped_campaigns(self) -> list[uuid.UUID]:
        return [*self.blocked, *self.gone]

    def block(self, campaign_id: uuid.UUID, reason: str) -> None:
        if campaign_id in self.blocked:
            return
        self.blocked[campaign_id] = reason
        logger.bind(event="campaign_blocked", campaign_id=str(campaign_id)).error(
            "campaign {} is blocked, its states wait until the graph is fixed: {}", campaign_id, reason
        )

    async def graph_for(self, connection, campaign_id: uuid.UUID) -> CampaignGraph | None:
        """Return the campaign's usable graph, loading a campaign that started running mid-tick."""
        graph = self.graphs.get(campaign_id)
        if graph is None:
            self.versions = await store.running_campaign_versions(connection)
            if campaign_id not in self.versions:
                self.gone.add(campaign_id)
                return None
            loaded = await load_graphs(connection, self.services.graphs, self.versions, [campaign_id])
            graph = self.graphs[campaign_id] = loaded[campaign_id]
            if graph.broken_reason is not None:
                self.block(campaign_id, graph.broken_reason)
        return None if graph.broken_reason is not None else graph

    async def node_for(self, connection, row) -> Node | str:
        """Return the node of a locked state, or the reason it cannot be executed now."""
        graph = await self.graph_for(connection, row["campaign_id"])
        if graph is None:
            return "blocked"
        node = graph.nodes.get(row["node_id"])
        if node is None:
            # The node was added or edited after the graph was compiled in this tick: compile it again.
            self.graphs.pop(row["campaign_id"], None)
            graph = await self.graph_for(connection, row["campaign_id"])
            node = graph.nodes.get(row["node_id"]) if graph is not None else None
        if node is None:
            return f"node {row['node_id']} is not a live node of campaign {row['campaign_id']}"
        return node

    async def executable_node(self, connection, row, batch: OutcomeBatch, kind: str) -> Node | None:
        """Return the node to execute a locked state with, or None once the batch records why not.

        A state of a blocked campaign is left as it is, one whose node is missing or invalid fails,
        and one whose customer is deleted stops. `kind` labels a failure whose node is unknown.
        """
        node = await self.node_for(connection, row)
        if node == "blocked":
            return None
        if isinstance(node, str):
            batch.fail(row, kind, node)
            return None
        if row["customer_deleted"]:
            batch.stop(row, node.kind)
            return None
        if node.invalid_reason is not None:
            batch.fail(row, node.kind, node.invalid_reason)
            return None
        return node

    async def run_simple_batch(self) -> bool:
        """Lock, execute and finish one batch of due non-Email states in one transaction."""
        async with self.services.pool.acquire() as connection, connection.transaction():
            now = self.now()
            rows = await self.lock_due(connection, now, False, self.settings.batch_size)
            if not rows:
                return False
            batch = OutcomeBatch(attempts_added=1)
            filter_rows: list[tuple[object, Node]] = []
            for row in rows:
                node = await self.executable_node(connection, row, batch, "unknown")
                if node is None:
                    continue
                if node.kind == "Wait":
                    batch.complete(row, node.kind)
                elif node.kind == "Filter":
                    filter_rows.append((row, node))
                else:
                    batch.fail(row, node.kind, f"node {node.id} of kind {node.kind} cannot be executed")
            await filter_step.evaluate_due(self, connection, filter_rows, batch, now)
            await self.write(connection, batch, now, expected_states=(PENDING,))
        self.batches += 1
        return True

    async def write(self, connection, batch: OutcomeBatch, now: datetime, expected_states: tuple[str, ...]) -> set:
        """Write a batch's outcomes, next states and error reasons; count what was written."""
        changed = await store.finish_states(connection, batch.outcomes, now, expected_states)
        new_states: list[NextState] = []
        errors = []
        for outcome in batch.outcomes:
            if outcome.row["id"] not in changed:
                continue
            self.count(outcome)
            if outcome.reason is not None:
                errors.append((outcome.row["id"], outcome.reason))
            if outcome.edge_kind is not None:
                new_states.extend(self.next_states_of(outcome, now))
        await store.insert_states(connection, new_states, now)
        await store.record_errors(connection, errors, now)
        self.counts["next_states"] += len(new_states)
        return changed

    def next_states_of(self, outcome: Outcome, now: datetime) -> list[NextState]:
        graph = self.graphs.get(outcome.row["campaign_id"])
        if graph is None:
            return []
        successors = graph.successors(outcome.row["node_id"], outcome.edge_kind)
        states = next_states(successors, outcome.row, now, self.zones)
        for node, state in zip(successors, states):
            if state.run_at <= now:
                if node.kind == "Email":
                    self.email_due = True
                else:
                    self.simple_due = True
        return states

    def count(self, outcome: Outcome) -> None:
        label = outcome_label(outcome)
        self.counts[label] += 1
        self.by_kind[(outcome.kind, label)] += 1

    def summary(self) -> dict:
        by_kind: dict[str, dict[str, int]] = {}
        for (kind, label), number in sorted(self.by_kind.items()):
            by_kind.setdefault(kind, {})[label] = number
        summary = {
            "completed": self.counts["completed"],
            "timed_out": self.counts["timed_out"],
            "errored": self.counts["errored"],
            "stopped": self.counts["stopped"],
            "waiting": self.counts["waiting"],
            "next_states": self.counts["next_states"],
            "emails_sent": self.counts["emails_sent"],
            "emails_failed": self.counts["emails_failed"],
            "released": self.counts["released"],
            "batches": self.batches,
            "by_node_kind": by_kind,
            "blocked_campaigns": [
                {"campaign_id": str(campaign_id), "reason": reason} for campaign_id, reason in self.blocked.items()
            ],
            "graph_cache": self.services.graphs.describe(),
        }
        if self.stopped_early is not None:
            summary["stopped_early"] = self.stopped_early
        return summary


async def run_campaign_tick(services: Services) -> dict:
    """Run one tick of the campaign cron job and return its summary counts."""
    return await CampaignTick(services).run()

