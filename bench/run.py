"""Benchmark one campaign-cron tick against PostgreSQL and print one line per workload.

Run `.venv/bin/python bench/run.py --help`, or `make bench`. The run creates its own databases on
the PostgreSQL at --admin-url and drops them at the end, also after a failure. Each workload runs
in a child process of its own, so each peak RSS belongs to one workload alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import database  # noqa: E402
import probes  # noqa: E402
import workloads  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
WORKLOADS = ("wait", "email-log", "email-smtp", "filter", "finished", "health")
LARGE_STATES = 1_000_000
MB = 1_000_000

TARGETS = {
    "wait_floor_ratio": 0.6,
    "email_log_rate": 5_000,
    "filter_rate": 10_000,
    "large_peak_rss_mb": 200,
    "idle_ms": 10,
    "finished_ratio": 1.2,
    "health_p99_ms": 50,
}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=100_000, help="due states per workload (default 100000)")
    parser.add_argument(
        "--large", action="store_true", help=f"also drain a backlog of {LARGE_STATES:,} Wait states (takes minutes)"
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of {','.join(WORKLOADS)} (default all; --large adds 'large')",
    )
    parser.add_argument(
        "--finished-states",
        type=int,
        default=1_000_000,
        help="COMPLETED states in the table for the 'finished' workload (default 1000000)",
    )
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help=f"PostgreSQL to use (default {DEFAULT_ADMIN_URL})")
    parser.add_argument(
        "--log-file",
        default=os.devnull,
        help="where the engine's INFO log lines go, in the service's text format (default: discarded)",
    )
    # Internal modes: a workload's child process, the SMTP server and the /health client.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--smtp-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--health-client", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)

    if arguments.states < 1:
        parser.error("--states must be 1 or more")
    names = [name.strip() for name in arguments.workloads.split(",") if name.strip()]
    unknown = sorted(set(names) - set(WORKLOADS) - {"large"})
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}, expected some of {','.join(WORKLOADS)},large")
    if arguments.large and "large" not in names:
        names.append("large")
    arguments.workload_names = names
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.smtp_server:
        asyncio.run(probes.serve_smtp())
        return 0
    if arguments.health_client:
        asyncio.run(probes.probe_health(arguments.health_client, workloads.HEALTH_RATE))
        return 0
    if arguments.child:
        return run_child(arguments)
    return run_parent(arguments)


def run_child(arguments: argparse.Namespace) -> int:
    """Run one workload and print its figures as JSON on the last line of standard output."""
    from sequence_cron.logs import configure_logging

    log_stream = open(arguments.log_file, "a")
    configure_logging("INFO", "text", stream=log_stream)
    workload = workloads.Workload(arguments.admin_url, arguments.base, arguments.states, customer_count(arguments))
    name = arguments.child
    if name == "wait":
        coroutine = workload.wait()
    elif name in ("email-log", "email-smtp"):
        coroutine = workload.email(name.removeprefix("email-"))
    elif name == "filter":
        coroutine = workload.filter()
    elif name == "health":
        coroutine = workload.health()
    elif name == "finished":
        coroutine = workload.finished(arguments.finished_states)
    else:  # large
        workload.states = LARGE_STATES
        coroutine = workload.large()
    result = asyncio.run(coroutine)
    print(json.dumps(result, default=str), flush=True)
    return 0


def customer_count(arguments: argparse.Namespace) -> int:
    return max(arguments.states, 10_000)


def run_parent(arguments: argparse.Namespace) -> int:
    from sequence_cron.logs import configure_logging

    configure_logging("INFO", "text", stream=open(arguments.log_file, "a"))
    prefix = f"sequence_cron_bench_{secrets.token_hex(4)}"
    print_header(arguments)
    results: dict[str, dict] = {}
    failed = False
    try:
        started = time.perf_counter()
        asyncio.run(prepare_base(arguments.admin_url, prefix, customer_count(arguments)))
        print(f"base database {prefix}: {customer_count(arguments):,} customers seeded in {time.perf_counter() - started:.1f} s")
        for name in arguments.workload_names:
            result = run_workload(arguments, prefix, name)
            if result is None:
                failed = True
                continue
            results[name] = result
            for line in describe(name, result):
                print(line, flush=True)
            for problem in result.get("problems", []):
                failed = True
                print(f"    CHECK FAILED: {problem}", flush=True)
    finally:
        dropped = asyncio.run(database.drop_databases(arguments.admin_url, prefix))
        print(f"dropped {len(dropped)} benchmark database(s) named {prefix}*")
    print_targets(results)
    return 1 if failed else 0


async def prepare_base(admin_url: str, name: str, customers: int) -> None:
    url = await database.create_database(admin_url, name)
    await database.seed_base(url, customers)


def run_workload(arguments: argparse.Namespace, prefix: str, name: str) -> dict | None:
    command = [
        sys.executable, __file__, "--child", name, "--base", prefix, "--states", str(arguments.states),
        "--admin-url", arguments.admin_url, "--log-file", arguments.log_file,
        "--finished-states", str(arguments.finished_states),
    ]
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        print(f"{name:<11} FAILED with exit code {completed.returncode}; see standard error above", flush=True)
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


def print_header(arguments: argparse.Namespace) -> None:
    from sequence_cron.config import load_settings

    settings = load_settings({"DATABASE_URL": arguments.admin_url, **tuning_environment()})
    version = asyncio.run(server_version(arguments.admin_url))
    print(f"sequence-cron benchmark, {date.today().isoformat()}")
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {memory_total_gb():.1f} GB RAM, Python {platform.python_version()}")
    print(f"database: {version}")
    print(
        f"settings: CAMPAIGN_BATCH_SIZE={settings.batch_size} EMAIL_BATCH_SIZE={settings.email_batch_size} "
        f"EMAIL_CONCURRENCY={settings.email.concurrency} DB_POOL_MAX_SIZE={settings.database.pool_max_size}"
    )
    where = "discarded (written to /dev/null)" if arguments.log_file == os.devnull else f"appended to {arguments.log_file}"
    print(f"logs: INFO and above, formatted as the service's text lines, {where}")
    print("peak RSS: the process's VmHWM over the tick, 1 MB = 10^6 bytes; states/s = due states / tick wall time")


def tuning_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in workloads.TUNING_VARIABLES if name in os.environ}


async def server_version(admin_url: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        return (await connection.fetchval("SELECT version()")).split(" on ")[0]
    finally:
        await connection.close()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_total_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9


def describe(name: str, result: dict) -> list[str]:
    """Return the printed line(s) of one workload's figures."""
    if name == "finished":
        return [
            f"{'finished':<11} {result['states']:>9,} due states: {result['with_seconds']:.2f} s with "
            f"{result['finished_states']:,} COMPLETED states in the table, {result['without_seconds']:.2f} s without, "
            f"ratio {result['ratio']:.2f} (medians of 3)",
            f"{'':<11} the floor on the same data: {result['floor_with_seconds']:.2f} s with, "
            f"{result['floor_without_seconds']:.2f} s without, ratio {result['floor_ratio']:.2f}",
        ]
    line = (
        f"{name:<11} {result['summary']['completed'] + result['summary']['timed_out']:>9,} states "
        f"{result['rate']:>9,.0f} states/s   peak RSS {result['peak_rss'] / MB:>5.0f} MB   tick {result['seconds']:>7.2f} s"
    )
    if not result.get("peak_rss_reset", True):
        line += " (peak since the process started, because /proc/self/clear_refs is not writable)"
    lines = [line]
    if name == "wait":
        lines[0] += (
            f"   floor {result['floor_rate']:,.0f} states/s ({result['floor_seconds']:.2f} s), "
            f"ratio {result['rate'] / result['floor_rate']:.2f}"
        )
        lines.append(
            f"{'idle tick':<11} median {result['idle_ms_median']:.1f} ms, max {result['idle_ms_max']:.1f} ms "
            f"over {workloads.IDLE_TICKS} ticks with nothing due"
        )
    if name == "filter":
        lines[0] += f"   {result['matched']:,} matched"
    if name == "health":
        lines.append(
            f"{'/health':<11} p99 {result['health_p99_ms']:.1f} ms, p50 {result['health_p50_ms']:.1f} ms, "
            f"max {result['health_max_ms']:.1f} ms over {result['health_requests']:,} requests at "
            f"{workloads.HEALTH_RATE:.0f}/s during the tick, "
            f"{result['health_failures']} failed"
        )
    return lines


def print_targets(results: dict[str, dict]) -> None:
    """Print each target that this run measured, with its figure and whether it is met."""
    rows = []
    if "wait" in results:
        ratio = results["wait"]["rate"] / results["wait"]["floor_rate"]
        rows.append(("Wait ≥ 0.6 of the floor", f"{ratio:.2f}", ratio >= TARGETS["wait_floor_ratio"]))
        idle = results["wait"]["idle_ms_median"]
        rows.append(("idle tick < 10 ms (median)", f"{idle:.1f} ms", idle < TARGETS["idle_ms"]))
    if "email-log" in results:
        rate = results["email-log"]["rate"]
        rows.append(("Email (log) ≥ 5,000/s", f"{rate:,.0f}/s", rate >= TARGETS["email_log_rate"]))
    if "filter" in results:
        rate = results["filter"]["rate"]
        rows.append(("Filter ≥ 10,000/s", f"{rate:,.0f}/s", rate >= TARGETS["filter_rate"]))
    if "large" in results:
        peak = results["large"]["peak_rss"] / MB
        rows.append(("peak RSS ≤ 200 MB draining 1M", f"{peak:.0f} MB", peak <= TARGETS["large_peak_rss_mb"]))
    if "finished" in results:
        ratio = results["finished"]["ratio"]
        rows.append(("1M finished ≤ 1.2× without", f"{ratio:.2f}", ratio <= TARGETS["finished_ratio"]))
    if "health" in results and results["health"]["health_p99_ms"] is not None:
        p99 = results["health"]["health_p99_ms"]
        rows.append(("/health p99 < 50 ms", f"{p99:.1f} ms", p99 < TARGETS["health_p99_ms"]))
    if rows:
        print("targets:")
    for label, figure, met in rows:
        print(f"  {label:<32} {figure:>12}  {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
