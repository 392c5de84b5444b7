"""The sequence-cron command as a user runs it: real processes, real servers, one JSON line of output."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import aiohttp
import orjson
import pytest

from sequence_cron.storage.migrate import migrations_folder

from tests.factories import fetch_state, next_states_of
from tests.servers import free_port
from tests.smtp_sink import SmtpSink


def run_command(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sequence_cron", *args],
        env={**clean_os_environment(), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clean_os_environment() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR", "VIRTUAL_ENV")
    return {name: os.environ[name] for name in keep if name in os.environ}


@pytest.mark.parametrize("command", [[], ["serve"], ["run"], ["migrate"], ["launch"], ["demo"]])
def test_help_names_variables(command):
    result = run_command(*command, "--help", env={})

    assert result.returncode == 0
    assert "DATABASE_URL" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PORT", "abc", "PORT: 'abc' is not a whole number, for example PORT=3001"),
        ("PORT", "70000", "PORT: 70000 is outside 1..65535"),
        ("CAMPAIGN_CRON_SCHEDULE", "every minute", "CAMPAIGN_CRON_SCHEDULE: invalid cron expression"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: invalid scheme 'mysql'"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: invalid value 'LOUD'"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "DEFAULT_TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("EMAIL_PROVIDER", "pigeon", "EMAIL_PROVIDER"),
    ],
)
def test_invalid_setting_stops_with_one_line(variable, value, expected, database_url):
    result = run_command("serve", env={"DATABASE_URL": database_url, variable: value})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert expected in lines[0]
    assert "for example" in lines[0]


def test_serve_without_database_names_variable():
    result = run_command("serve", env={})

    assert result.returncode == 2
    assert "DATABASE_URL: missing" in result.stderr


def test_migrate_twice(admin_url):
    from tests.conftest import create_database, drop_database

    name = f"sequence_cron_migrate_{os.getpid()}"
    url = asyncio.run(create_database(admin_url, name))
    try:
        first = run_command("migrate", env={"DATABASE_URL": url})
        second = run_command("migrate", env={"DATABASE_URL": url})
    finally:
        asyncio.run(drop_database(admin_url, name))

    assert first.returncode == 0, first.stderr
    assert orjson.loads(first.stdout)["applied"] == [path.name for path in sorted(migrations_folder().glob("*.sql"))]
    assert second.returncode == 0, second.stderr
    assert orjson.loads(second.stdout) == {"applied": []}


def test_run_fails_clearly_when_database_down():
    result = run_command("run", "campaign-cron", env={"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"})

    assert result.returncode == 1
    assert "campaign-cron tick failed" in result.stderr
    assert result.stdout == ""


async def test_run_sends_each_email_once_over_smtp(factory, db, database_url, now):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    template = await factory.template(tenant, subject="Welcome, {{firstName}}")
    email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
    wait_node = await factory.node(campaign_id, "Wait", {"days": 3})
    draft_campaign = await factory.campaign(tenant, isDraft=True)
    draft_node = await factory.node(draft_campaign, "Wait", {"days": 1})
    await factory.edge(email_node, wait_node)
    customers = [await factory.customer(tenant, firstName=f"C{index}") for index in range(25)]
    for customer in customers:
        await factory.state(email_node, customer, runAt=now - timedelta(minutes=1))
    draft_state = await factory.state(draft_node, customers[0], runAt=now - timedelta(days=1))
    smtp = SmtpSink(free_port()).start()
    try:
        env = {
            "DATABASE_URL": database_url,
            "EMAIL_PROVIDER": "smtp",
            "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "FROM_ADDRESS": "sender@example.com",
            "EMAIL_BATCH_SIZE": "7",
        }
        result = await asyncio.to_thread(run_command, "run", "campaign-cron", "--now", now.isoformat(), env=env)
        again = await asyncio.to_thread(run_command, "run", "campaign-cron", "--now", now.isoformat(), env=env)
    finally:
        smtp.stop()

    assert result.returncode == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert summary["job"] == "campaign-cron"
    assert summary["emails_sent"] == 25
    assert summary["completed"] == 25
    assert summary["duration_ms"] > 0
    assert orjson.loads(again.stdout)["emails_sent"] == 0
    assert len(smtp.sink.messages) == 25
    assert sorted(smtp.sink.recipients) == sorted(await db.fetchval('SELECT array_agg(email) FROM product_users'))
    assert {message["Subject"] for message in smtp.sink.messages} == {f"Welcome, C{index}" for index in range(25)}
    for customer in customers:
        [next_state] = await next_states_of(db, customer, wait_node)
        assert next_state["runAt"] == now + timedelta(days=3)
    assert (await fetch_state(db, draft_state))["state"] == "PENDING"
    assert await db.fetchval('SELECT "sentCount" FROM emails WHERE id = $1', template) == 25


async def test_run_node_timeout_prints_summary(factory, db, database_url, now):
    result = await asyncio.to_thread(run_command, "run", "node-timeout", env={"DATABASE_URL": database_url})

    assert result.returncode == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert summary["job"] == "node-timeout"
    assert summary["timed_out"] == 0


def test_run_rejects_bad_now(database_url):
    result = run_command("run", "campaign-cron", "--now", "yesterday", env={"DATABASE_URL": database_url})

    assert result.returncode == 2
    assert "--now: invalid instant 'yesterday'" in result.stderr


async def wait_for_health(port: int, deadline_s: float = 30) -> int:
    deadline = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/health") as response:
                    return response.status
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise TimeoutError(f"nothing answered on port {port}")


async def test_serve_stops_cleanly_on_sigterm(database_url, redis_url, db):
    port = free_port()
    env = {
        **clean_os_environment(),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "HTTP_HOST": "127.0.0.1",
        "CAMPAIGN_CRON_SCHEDULE": "* * * * * *",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sequence_cron", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert await wait_for_health(port) == 200
        await asyncio.sleep(1.5)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/jobs") as response:
                jobs = await response.json()
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(process.wait, 10)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read().decode()

    assert returncode == 0, stderr
    assert jobs["jobs"][0]["runs"] >= 1
    assert "sequence-cron started" in stderr
    assert "sequence-cron stopped" in stderr


async def test_launch_enrolls_once(factory, db, database_url, now):
    tenant = await factory.tenant()
    for _ in range(3):
        await factory.customer(tenant)
    everyone = await factory.audience(tenant, {"nodeKind": "Condition", "conditionKind": "AND", "children": []})
    campaign_id = await factory.campaign(tenant, state="PENDING", isDraft=True)
    trigger = await factory.node(campaign_id, "Trigger", {"audienceId": str(everyone)})
    wait = await factory.node(campaign_id, "Wait", {"days": 1})
    await factory.edge(trigger, wait)
    env = {"DATABASE_URL": database_url}

    first = await asyncio.to_thread(run_command, "launch", str(campaign_id), env=env)
    second = await asyncio.to_thread(run_command, "launch", str(campaign_id), env=env)

    assert first.returncode == 0, first.stderr
    [entry] = orjson.loads(first.stdout)["entry_nodes"]
    assert entry["node_id"] == str(trigger)
    assert entry["enrolled"] == 3
    assert orjson.loads(second.stdout)["entry_nodes"][0]["enrolled"] == 0
    campaign = await db.fetchrow("SELECT state, \"isDraft\" FROM campaigns WHERE id = $1", campaign_id)
    assert campaign["state"] == "RUNNING"
    assert campaign["isDraft"] is False
    assert await db.fetchval('SELECT count(*) FROM campaign_node_states WHERE "campaignNodeId" = $1', wait) == 3


def test_launch_missing_campaign_fails_clearly(database_url):
    result = run_command("launch", "00000000-0000-0000-0000-000000000001", env={"DATABASE_URL": database_url})

    assert result.returncode == 1
    assert "launch failed, nothing was changed" in result.stderr
    assert "00000000-0000-0000-0000-000000000001" in result.stderr


def test_launch_rejects_bad_id(database_url):
    result = run_command("launch", "campaign-7", env={"DATABASE_URL": database_url})

    assert result.returncode == 2
    assert "CAMPAIGN_ID: 'campaign-7' is not a UUID" in result.stderr


def test_version():
    result = run_command("--version", env={})

    assert result.returncode == 0
    assert result.stdout.startswith("sequence-cron ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("postgresql://u@localhost:99999/db", "DATABASE_URL: invalid URL"), ("postgresql://[::1/db", "DATABASE_URL: invalid URL")],
)
def test_malformed_database_url(value, expected):
    result = run_command("serve", env={"DATABASE_URL": value})

    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_reports_missing_folder(database_url, tmp_path):
    missing = run_command("migrate", env={"DATABASE_URL": database_url, "MIGRATIONS_DIR": str(tmp_path / "none")})
    empty = run_command("migrate", env={"DATABASE_URL": database_url, "MIGRATIONS_DIR": str(tmp_path)})

    assert missing.returncode == 1
    assert "migrations folder" in missing.stderr
    assert "not found" in missing.stderr
    assert empty.returncode == 1
    assert "has no .sql files" in empty.stderr
    assert "Traceback" not in missing.stderr + empty.stderr


def test_migrate_names_broken_file(admin_url, tmp_path):
    from tests.conftest import create_database, drop_database

    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE broken (;")
    name = f"sequence_cron_broken_{os.getpid()}"
    url = asyncio.run(create_database(admin_url, name))
    try:
        result = run_command("migrate", env={"DATABASE_URL": url, "MIGRATIONS_DIR": str(tmp_path)})
    finally:
        asyncio.run(drop_database(admin_url, name))

    assert result.returncode == 1
    assert "migration 0001_broken.sql failed and was rolled back" in result.stderr


def test_run_without_schema_hints_migrate(admin_url):
    from tests.conftest import create_database, drop_database

    name = f"sequence_cron_noschema_{os.getpid()}"
    url = asyncio.run(create_database(admin_url, name))
    try:
        result = run_command("run", "campaign-cron", env={"DATABASE_URL": url})
    finally:
        asyncio.run(drop_database(admin_url, name))

    assert result.returncode == 1
    assert "run `sequence-cron migrate` first" in result.stderr


@pytest.mark.parametrize("problem", ["cycle", "no_entry", "invalid_entry"])
async def test_launch_rejects_unlaunchable_campaign(factory, db, database_url, problem):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant, state="PENDING", isDraft=True)
    entry_json = {"audienceId": "not-a-uuid"} if problem == "invalid_entry" else {}
    first = await factory.node(campaign_id, "Wait" if problem == "no_entry" else "Trigger", entry_json)
    second = await factory.node(campaign_id, "Wait", {"days": 1})
    third = await factory.node(campaign_id, "Wait", {"days": 1})
    await factory.edge(first, second)
    await factory.edge(second, third)
    if problem == "cycle":
        await factory.edge(third, second)

    result = await asyncio.to_thread(run_command, "launch", str(campaign_id), env={"DATABASE_URL": database_url})

    assert result.returncode == 1
    assert "launch failed, nothing was changed" in result.stderr
    assert await db.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id) == "PENDING"


def test_demo_port_in_use_seeds_nothing(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_command("demo", "--port", str(port), "--data-dir", str(tmp_path / "demo"), env={})

    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stderr
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00+14:00", "9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z"])
def test_run_rejects_out_of_range_now(database_url, now):
    result = run_command("run", "campaign-cron", "--now", now, env={"DATABASE_URL": database_url})

    assert result.returncode == 2
    assert "--now:" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_ignores_unrelated_settings(database_url):
    result = run_command("migrate", env={"DATABASE_URL": database_url, "EMAIL_PROVIDER": "smtp", "PORT": "99999"})

    assert result.returncode == 0, result.stderr


async def test_launch_rejects_campaign_without_nodes(factory, db, database_url):
    campaign_id = await factory.campaign(await factory.tenant(), state="PENDING", isDraft=True)

    result = await asyncio.to_thread(run_command, "launch", str(campaign_id), env={"DATABASE_URL": database_url})

    assert result.returncode == 1
    assert "has no nodes" in result.stderr
    assert await db.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id) == "PENDING"
