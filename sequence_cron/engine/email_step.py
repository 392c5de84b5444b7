"""Email states: claim a small batch, commit the claim, send with bounded concurrency, then finish.

A claim is committed before its send starts, so a process that dies mid-batch can only leave the
sends that were in flight in doubt: those stay RUNNING until the timeout job sets them to ERROR.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from loguru import logger

from sequence_cron.email.errors import DeliveryError, InvalidEmailError, RenderError
from sequence_cron.email.message import build_email
from sequence_cron.email.render import compile_template, customer_variables
from sequence_cron.engine.nodes import EmailSpec, Node
from sequence_cron.engine.outcomes import PENDING, RUNNING, OutcomeBatch
from sequence_cron.storage import store

if TYPE_CHECKING:
    from sequence_cron.engine.tick import CampaignTick

KIND = "Email"
NOT_STARTED = object()
IN_FLIGHT = object()


@dataclass
class Send:
    row: object
    node: Node
    email_id: uuid.UUID
    message: object  # OutgoingEmail
    # NOT_STARTED, IN_FLIGHT (cancelled mid-send), None when delivered, or the failure reason.
    result: object = NOT_STARTED


async def run_email_batch(tick: CampaignTick) -> bool:
    """Execute one batch of due Email states; return False when none was due."""
    claimed = await claim_batch(tick)
    if claimed is None:
        return False
    if claimed:
        sends, failed = await prepare_sends(tick, claimed)
        await send_all(tick, sends)
        # The results must be recorded even when the tick is being cancelled at shutdown.
        await asyncio.shield(finish_batch(tick, sends, failed))
    tick.batches += 1
    return True


async def claim_batch(tick: CampaignTick) -> list[tuple[object, Node]] | None:
    """Lock due Email states, finish those that cannot be sent, and commit the rest as RUNNING."""
    async with tick.services.pool.acquire() as connection, connection.transaction():
        now = tick.now()
        rows = await store.lock_due_states(
            connection, now, True, tick.skipped_campaigns(), tick.settings.email_batch_size
        )
        if not rows:
            return None
        batch = OutcomeBatch(attempts_added=1)
        sendable = []
        for row in rows:
            node = await tick.node_for(connection, row)
            if node == "blocked":
                continue
            if isinstance(node, str):
                batch.fail(row, KIND, node)
            elif row["customer_deleted"]:
                batch.stop(row, KIND)
            elif node.invalid_reason is not None:
                batch.fail(row, KIND, node.invalid_reason)
            else:
                sendable.append((row, node))
        await tick.write(connection, batch, now, expected_states=(PENDING,))
        claimed_ids = await store.claim_states(connection, [row["id"] for row, _ in sendable], now)
    return [(row, node) for row, node in sendable if row["id"] in claimed_ids]


async def prepare_sends(tick: CampaignTick, claimed) -> tuple[list[Send], list[tuple[object, str]]]:
    """Render and validate each message; a state whose message cannot be built fails before any send."""
    async with tick.services.pool.acquire() as connection:
        customers = await store.load_customers(connection, list({row["customer_id"] for row, _ in claimed}))
        templates = await store.load_templates(connection, list({node.spec.email_id for _, node in claimed}))

    sends: list[Send] = []
    failed: list[tuple[object, str]] = []
    compiled: dict[uuid.UUID, object] = {}
    default_sender = tick.settings.email.from_address
    for row, node in claimed:
        spec: EmailSpec = node.spec
        template = templates.get(spec.email_id)
        if template is None or template["userId"] != row["tenant_id"]:
            failed.append((row, f"email template {spec.email_id} of node {node.id} not found"))
            continue
        try:
            if spec.email_id not in compiled:
                compiled[spec.email_id] = compile_template(template["subject"], template["bodyHtml"])
            customer = customers[row["customer_id"]]
            variables = customer_variables(_columns(customer), customer["traits"])
            rendered = compiled[spec.email_id].render(variables)
            message = build_email(
                to=customer["email"],
                from_address=template["from"] or default_sender,
                from_name=template["fromName"] if template["from"] else None,
                subject=rendered.subject,
                html=rendered.html,
            )
        except (RenderError, InvalidEmailError) as error:
            failed.append((row, f"email {spec.email_id} to customer {row['customer_id']}: {error}"))
            continue
        sends.append(Send(row, node, spec.email_id, message))
    return sends, failed


def _columns(customer) -> dict:
    return {key: value for key, value in customer.items() if key not in ("traits", "context")}


async def send_all(tick: CampaignTick, sends: list[Send]) -> None:
    """Hand the messages to the provider, at most EMAIL_CONCURRENCY at once; none starts after shutdown begins."""
    provider = tick.services.provider
    limit = asyncio.Semaphore(tick.settings.email.concurrency)
    guard_s = tick.settings.email.send_timeout_seconds + 5

    async def send_one(send: Send) -> None:
        async with limit:
            if tick.services.stopping.is_set():
                return
            send.result = IN_FLIGHT
            try:
                await asyncio.wait_for(provider.send(send.message), guard_s)
                send.result = None
            except DeliveryError as error:
                send.result = str(error)
            except TimeoutError:
                send.result = f"{provider.name} send timed out after {guard_s:g} s"

    await asyncio.gather(*(send_one(send) for send in sends))


async def finish_batch(tick: CampaignTick, sends: list[Send], failed: list[tuple[object, str]]) -> None:
    """Record each send and finish the claimed states in one transaction; release the unsent ones."""
    batch = OutcomeBatch(attempts_added=0)
    for row, reason in failed:
        batch.fail(row, KIND, reason)
    records = []
    sent_counts: dict[uuid.UUID, int] = {}
    unsent = []
    for send in sends:
        if send.result is NOT_STARTED:
            unsent.append(send.row["id"])
            continue
        if send.result is IN_FLIGHT:
            continue  # Delivery is unknown: the state stays RUNNING until the timeout job ends it.
        delivered = send.result is None
        records.append((send.email_id, send.row["customer_id"], delivered, None if delivered else send.result))
        if delivered:
            batch.complete(send.row, KIND)
            sent_counts[send.email_id] = sent_counts.get(send.email_id, 0) + 1
        else:
            batch.fail(send.row, KIND, f"email {send.email_id} to customer {send.row['customer_id']}: {send.result}")
    tick.counts["emails_sent"] += len([record for record in records if record[2]])
    tick.counts["emails_failed"] += len([record for record in records if not record[2]])

    async with tick.services.pool.acquire() as connection, connection.transaction():
        now = tick.now()
        await tick.write(connection, batch, now, expected_states=(RUNNING,))
        await store.insert_sent_emails(connection, records, now)
        await store.add_sent_counts(connection, sent_counts)
        released = await store.release_states(connection, unsent, now)
    tick.counts["released"] += len(released)
    if released:
        logger.bind(event="states_released").info("returned {} claimed Email states to PENDING at shutdown", len(released))
