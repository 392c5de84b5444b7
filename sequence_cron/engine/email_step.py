"""Email states: claim a small batch, commit the claim, send with bounded concurrency, then finish.

A claim is committed before its send starts, so a process that dies mid-batch can only leave the
sends that were in flight in doubt: those stay RUNNING until the timeout job sets them to ERROR.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
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
# Failures that may pass by themselves: the server unreachable or restarting, a statement or
# lock timeout, a deadlock.
TRANSIENT_DATABASE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.DeadlockDetectedError,
)
FINISH_RETRY_DELAYS_S = (0.5, 1, 2, 4, 8, 15)


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
        sends: list[Send] = []
        failed: list[tuple[object, str]] = []
        try:
            sends, failed = await prepare_sends(tick, claimed)
            await send_all(tick, sends)
        finally:
            # Also when shutdown cancels the tick mid-send: delivered states complete, states whose
            # send never started go back to PENDING, and sends cut off mid-way stay RUNNING.
            prepared = {send.row["id"] for send in sends} | {row["id"] for row, _ in failed}
            unprepared = [row["id"] for row, _ in claimed if row["id"] not in prepared]
            await asyncio.shield(finish_batch(tick, sends, failed, unprepared))
    tick.batches += 1
    return True


async def claim_batch(tick: CampaignTick) -> list[tuple[object, Node]] | None:
    """Lock due Email states, finish those that cannot be sent, and commit the rest as RUNNING."""
    async with tick.services.pool.acquire() as connection, connection.transaction():
        now = tick.now()
        rows = await tick.lock_due(connection, now, True, tick.settings.email_batch_size)
        if not rows:
            return None
        batch = OutcomeBatch(attempts_added=1)
        sendable = []
        for row in rows:
            node = await tick.executable_node(connection, row, batch, KIND)
            if node is not None:
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
        customer = customers[row["customer_id"]]
        if customer["userId"] != row["tenant_id"]:
            failed.append((row, f"customer {row['customer_id']} belongs to another tenant than state {row['id']}"))
            continue
        try:
            if spec.email_id not in compiled:
                compiled[spec.email_id] = compile_template(template["subject"], template["bodyHtml"])
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
                # asyncio.timeout guards the send in this task; wait_for would start a task per send.
                async with asyncio.timeout(guard_s):
                    await provider.send(send.message)
                send.result = None
            except DeliveryError as error:
                send.result = str(error)
            except TimeoutError:
                send.result = f"{provider.name} send timed out after {guard_s:g} s"

    await asyncio.gather(*(send_one(send) for send in sends))


async def finish_batch(
    tick: CampaignTick, sends: list[Send], failed: list[tuple[object, str]], unprepared: list[uuid.UUID]
) -> None:
    """Record each send and finish the claimed states in one transaction; release the unsent ones.

    `unprepared` are claimed states that never got as far as a message, because preparing the
    batch was cancelled or failed; they are released too.
    """
    batch = OutcomeBatch(attempts_added=0)
    for row, reason in failed:
        batch.fail(row, KIND, reason)
    records = []
    sent_counts: dict[uuid.UUID, int] = {}
    unsent = list(unprepared)
    for send in sends:
        if send.result is NOT_STARTED:
            unsent.append(send.row["id"])
            continue
        if send.result is IN_FLIGHT:
            continue  # Delivery is unknown: the state stays RUNNING until the timeout job ends it.
        delivered = send.result is None
        records.append(
            (send.row["id"], (send.email_id, send.row["customer_id"], delivered, None if delivered else send.result))
        )
        if delivered:
            batch.complete(send.row, KIND)
            sent_counts[send.email_id] = sent_counts.get(send.email_id, 0) + 1
        else:
            batch.fail(send.row, KIND, f"email {send.email_id} to customer {send.row['customer_id']}: {send.result}")

    released = await write_finished_batch(tick, batch, records, unsent)
    tick.counts["emails_sent"] += len([record for _, record in records if record[2]])
    tick.counts["emails_failed"] += len([record for _, record in records if not record[2]])
    tick.counts["released"] += len(released)
    if released:
        logger.bind(event="states_released").info(
            "returned {} claimed Email states whose send never started to PENDING", len(released)
        )
    await add_sent_counts(tick, sent_counts)


async def write_finished_batch(tick: CampaignTick, batch: OutcomeBatch, records: list, unsent: list) -> set:
    """Write a finished batch in one transaction and return the released ids; retry transient failures.

    The emails have gone out by now, so giving up would leave delivered states RUNNING until the
    timeout job makes them ERROR. Retrying for about 30 s rides out a database restart.
    """
    for attempt, delay_s in enumerate((*FINISH_RETRY_DELAYS_S, None)):
        # tick.write counts what it writes; a rolled-back attempt must not stay counted.
        counts, by_kind = tick.counts.copy(), tick.by_kind.copy()
        try:
            async with tick.services.pool.acquire() as connection, connection.transaction():
                now = tick.now()
                changed = await tick.write(connection, batch, now, expected_states=(RUNNING,))
                # When a connection dropped after the server committed but before it replied, a retry
                # finds the states already finished. Only the states this attempt changed get their
                # sent_emails rows then, so a send is never recorded twice.
                if attempt > 0:
                    records = [(state_id, record) for state_id, record in records if state_id in changed]
                await store.insert_sent_emails(connection, [record for _, record in records], now)
                return await store.release_states(connection, unsent, now)
        except TRANSIENT_DATABASE_ERRORS as error:
            tick.counts, tick.by_kind = counts, by_kind
            if delay_s is None:
                raise
            logger.bind(event="email_finish_retry").warning(
                "recording {} sent or failed Email states failed ({}: {}); retrying in {:g} s",
                len(batch) + len(unsent),
                type(error).__name__,
                error,
                delay_s,
            )
            await asyncio.sleep(delay_s)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def add_sent_counts(tick: CampaignTick, sent_counts: dict[uuid.UUID, int]) -> None:
    """Add the delivered sends to each template's "sentCount", after the states are committed.

    The API may keep a template's row locked while it edits it, so this update can wait until
    lock_timeout and fail. Done apart from the states, such a failure loses only this statistic.
    """
    if not sent_counts:
        return
    try:
        async with tick.services.pool.acquire() as connection:
            await store.add_sent_counts(connection, sent_counts)
    except TRANSIENT_DATABASE_ERRORS as error:
        logger.bind(event="sent_count_failed").warning(
            'adding {} delivered sends to "sentCount" of emails {} failed: {}: {}',
            sum(sent_counts.values()),
            ", ".join(str(email_id) for email_id in sorted(sent_counts)),
            type(error).__name__,
            error,
        )
