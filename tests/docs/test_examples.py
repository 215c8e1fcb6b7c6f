"""Every example on the site runs: the blocks marked ``<!-- run -->`` on each page (tests/docs/blocks.py)
run in order in one bash against one live ``newsfacts serve`` — on a database seeded as `make run`
seeds it, with a webhook worker, as a reader's terminal would — and what each prints is checked.
Only the ports change (8000 and 9000-9009 may be taken here). A block of a runnable language
without a marker fails, so a new example is either run here or says why not."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.embedded import free_port
from tests.api.live_events import api_key
from tests.docs.blocks import DOCS, RUNNABLE, Block, page_blocks, pages
from tests.services import TEST_SECRET_KEYS, ServerProcess

ROOT = DOCS.parent
NODE_MODULES = ROOT / "tests" / "clients" / "node_modules"
PAGE_TIMEOUT = 240  # seconds for one page's blocks: far above what they take, never a hang
LATE_OUTPUT = 30  # seconds to wait for what a background block prints after the page's last block
RUN_PAGES = [p for p in pages() if any(b.runs for b in page_blocks(p))]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(PAGE_TIMEOUT + LATE_OUTPUT + 60)]


def test_every_runnable_block_says_whether_it_runs() -> None:
    unmarked = [b.where for p in pages() for b in page_blocks(p) if b.language in RUNNABLE and b.marker is None]
    assert unmarked == [], f"mark each with <!-- run --> or <!-- not run: why --> on the line before: {unmarked}"
    reasonless = [b.where for p in pages() for b in page_blocks(p) if b.marker == "not run" and not b.reason.strip()]
    assert reasonless == [], f"say why these do not run: {reasonless}"


@pytest.fixture(scope="module")
def docs_server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """`newsfacts serve` as `make run` runs it (development, a webhook worker beside it) on this
    module's seeded database; yields the environment a reader's terminal would have."""
    folder = tmp_path_factory.mktemp("docs-server")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(folder / "data"),
        "ENVIRONMENT": "development",
        "WEBHOOK_WORKER_IN_SERVER": "true",
    }
    server = ServerProcess(env, log_path=folder / "serve.log").start()
    try:
        keys = {
            name: asyncio.run(api_key(database_url, scope))
            for name, scope in (("KEY", "write"), ("ADMIN", "admin"), ("READ", "read"))
        }
        shell = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST_"))}
        shell.update({**env, **keys, "API": f"http://localhost:{server.port}", "DOCS_PORT": str(server.port)})
        shell["WEBHOOK_SECRET_KEYS"] = TEST_SECRET_KEYS
        yield shell
    finally:
        server.stop()


def localise(text: str, port: str, hook_ports: dict[str, str]) -> str:
    text = re.sub(r"\b(localhost|127\.0\.0\.1):8000\b", lambda m: f"{m[1]}:{port}", text)
    return re.sub(r"\b900\d\b", lambda m: hook_ports[m[0]], text)


class Page:
    """One page's runnable blocks as one bash script, in a working folder of their own."""

    def __init__(self, blocks: list[Block], work: Path, env: dict[str, str]) -> None:
        self.blocks = blocks
        self.work = work
        self.out = work / ".out"
        self.code = work / ".blocks"
        self.state = work / ".state"
        for folder in (self.out, self.code, self.state):
            folder.mkdir(parents=True)
        (self.state / "saved.sh").touch()
        venv = Path(sys.executable).parent.parent  # the virtualenv running the tests: .venv under make test
        for name, target in (
            (".venv", venv),
            ("Makefile", ROOT / "Makefile"),
            ("pyproject.toml", ROOT / "pyproject.toml"),
        ):
            (work / name).symlink_to(target)
        (self.code / "node_modules").symlink_to(NODE_MODULES)
        self.env = {**env, "DOCS_STATE": str(self.state), "PYTHONPATH": str(ROOT)}
        hook_ports = {f"900{i}": str(free_port()) for i in range(10)}
        self.texts = [localise(b.text, env["DOCS_PORT"], hook_ports) for b in blocks]

    def command(self, i: int, block: Block) -> str:
        """The shell text that runs block ``i``."""
        text = self.texts[i]
        language = block.language
        if language in {"sh", "bash", "shell", "console"}:
            return text
        if language in {"python", "py"}:
            (self.code / f"{i}.py").write_text(text)
            return f'"$DOCS_PYTHON" {self.code}/{i}.py'
        if language in {"js", "javascript", "mjs"}:
            (self.code / f"{i}.mjs").write_text(text)
            return f"node {self.code}/{i}.mjs"
        if language == "graphql":
            (self.code / f"{i}.graphql").write_text(text)
            args = [f"--as={block.options['as']}"] if "as" in block.options else []
            args += [f"--vars={block.options['vars']}"] if "vars" in block.options else []
            args += [f"--save={block.options['save']}"] if "save" in block.options else []
            quoted = " ".join(shlex.quote(a) for a in args)
            return f'"$DOCS_PYTHON" -m tests.docs.graphql_block {quoted} {self.code}/{i}.graphql'
        if language == "json" and "post" in block.options:
            (self.code / f"{i}.json").write_text(text)
            key = {"anonymous": "", "read": "$READ", "write": "$KEY", "admin": "$ADMIN"}[
                block.options.get("as", "write")
            ]
            auth = f'-H "Authorization: Bearer {key}"' if key else ""
            return f"curl -sS \"$API{block.options['post']}\" {auth} -H 'Content-Type: application/json' -d @{self.code}/{i}.json"
        raise AssertionError(f"{block.where}: no way to run a {language!r} block (mark it <!-- not run: why -->)")

    def script(self) -> str:
        lines = [
            "set -e",
            "set -a  # every variable a block sets reaches the programs of the next blocks",
            f"cd {shlex.quote(str(self.work))}",
            'curl() { command curl --fail-with-body "$@"; }  # an HTTP error fails the block',
            'wait_for() { for _ in $(seq 300); do grep -qF -- "$2" "$1" && return 0; sleep 0.1; done; echo "never printed: $2" >> "$1"; return 1; }',
        ]
        for i, block in enumerate(self.blocks):
            out = f"{self.out}/{i}"
            lines.append(f"echo {i} > {self.out}/current")
            body = "{\n" + self.command(i, block) + "\n}" + f" > {out} 2>&1"
            if "background" in block.flags:
                lines += [body + " &", f"wait_for {out} {shlex.quote(block.options.get('ready', ''))}"]
            elif "fails" in block.flags:
                lines.append(f"if {body}; then echo 0 > {out}.status; else echo $? > {out}.status; fi")
            else:
                lines.append(body)
            if block.language == "graphql":
                lines.append(f". {self.state}/saved.sh")
        lines.append(f"echo done > {self.out}/current")
        return "\n".join(lines) + "\n"

    def output(self, i: int) -> str:
        path = self.out / str(i)
        return path.read_text(errors="replace") if path.exists() else ""


def graphql_refused(output: str) -> bool:
    """Whether any JSON object the block printed is a GraphQL answer with errors or userErrors."""
    from tests.docs.graphql_block import refused

    decoder = json.JSONDecoder()
    for start in [m.start() for m in re.finditer(r"\{", output)]:
        try:
            value, _ = decoder.raw_decode(output, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and ("data" in value or "errors" in value) and refused(value):
            return True
    return False


def squeeze(text: str) -> str:
    """Text without the spaces around ``:`` and ``,``: JSON built by PostgreSQL, by orjson and by
    json.dumps spaces them differently, and an expectation should not depend on which."""
    return re.sub(r"\s*([:,])\s*", r"\1", text)


def check(page: Page) -> list[str]:
    """What is wrong with the page's outputs (empty when every block did as its marker says)."""
    problems = []
    for i, block in enumerate(page.blocks):
        printed = page.output(i)
        missing = [e for e in block.expect if squeeze(e) not in squeeze(printed)]
        if missing:
            problems.append(f"{block.where} did not print {missing}; it printed:\n{printed[-3000:]}")
        if "fails" in block.flags:
            status = (page.out / f"{i}.status").read_text().strip()
            if status == "0" and not graphql_refused(printed):
                problems.append(f"{block.where} should fail and did not; it printed:\n{printed[-3000:]}")
        elif graphql_refused(printed):
            problems.append(f"{block.where} got GraphQL errors or userErrors:\n{printed[-3000:]}")
    return problems


@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_the_page_runs_as_written(page: Path, docs_server: dict[str, str], tmp_path: Path) -> None:
    blocks = [b for b in page_blocks(page) if b.runs]
    runner = Page(blocks, tmp_path / "work", {**docs_server, "DOCS_PYTHON": sys.executable})
    shell = subprocess.Popen(
        ["bash", "-c", runner.script()], env=runner.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        try:
            printed, _ = shell.communicate(timeout=PAGE_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"docs/{page.relative_to(DOCS)} did not finish in {PAGE_TIMEOUT} s: {_current(runner)}")
        if shell.returncode != 0:
            block = _current(runner)
            pytest.fail(
                f"{block} failed (exit {shell.returncode}); it printed:\n{_printed(runner)[-3000:]}\n{printed[-2000:]}"
            )
        deadline = time.monotonic() + LATE_OUTPUT
        problems = check(runner)
        while problems and time.monotonic() < deadline:  # a background receiver prints when its delivery lands
            time.sleep(0.25)
            problems = check(runner)
        assert problems == [], "\n\n".join(problems)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)  # background receivers end with the page
        with contextlib.suppress(subprocess.TimeoutExpired):
            shell.wait(timeout=10)


def _current(page: Page) -> str:
    current = (page.out / "current").read_text().strip() if (page.out / "current").exists() else "0"
    return page.blocks[int(current)].where if current.isdigit() else "the page's end"


def _printed(page: Page) -> str:
    current = (page.out / "current").read_text().strip() if (page.out / "current").exists() else "0"
    return page.output(int(current)) if current.isdigit() else ""
