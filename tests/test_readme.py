"""The README's Quickstart, executed as written: its first shell block (`make run`) starts a fresh
server on embedded PostgreSQL and Redis in a new data folder, the other blocks run in order in one
bash (as a user types them into a second terminal), and each block's output is checked. Only the
ports are changed (8000 and 9000 may be taken here), so the README cannot rot."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from api.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL")
CANDY = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def quickstart_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Quickstart\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", text[start:end], flags=re.S)


def _json_lines(output: str) -> list[Any]:
    # A line's leading JSON object: the background receiver's line can land right after a body
    # on the same terminal line, as it would for a reader of the Quickstart.
    found = []
    decoder = json.JSONDecoder()
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                found.append(decoder.raw_decode(line)[0])
            except json.JSONDecodeError:
                continue
    return found


def _one_json(output: str) -> Any:
    start = output.index("{")
    return json.JSONDecoder().raw_decode(output[start:])[0]


def check_keys(out: str, seen: dict[str, Any]) -> None:
    assert out.count("this secret is shown once") == 2, out


def check_graphql(out: str, seen: dict[str, Any]) -> None:
    claim = _one_json(out)["data"]["claim"]
    assert "everything is on the table" in claim["statement"] and claim["reportedBy"]["name"] == "The Atlantic"
    assert claim["speakerDescription"]


def check_rest(out: str, seen: dict[str, Any]) -> None:
    page = _one_json(out)
    assert len(page["data"]) == 2 and page["hasMore"] and all(c["statement"] for c in page["data"]), page


def check_webhook(out: str, seen: dict[str, Any]) -> None:
    registered = re.search(r"registered webhook endpoint (whe_\S+) for claim\.created .*\(signing secret whsec_", out)
    assert registered, out
    seen["endpoint"] = registered.group(1)


def check_write(out: str, seen: dict[str, Any]) -> None:
    # The receiver runs in the background since step 3: its delivery may print before the write's answer.
    claim = next(j for j in _json_lines(out) if j.get("object") == "claim")
    assert claim["id"].startswith("clm_") and claim["version"] == 1, claim
    seen["claim"] = claim["id"]


def check_delivery(out: str, seen: dict[str, Any]) -> None:
    # Everything printed from step 3 on (the receiver's lines land in whichever step runs meanwhile):
    # the new claim's delivery, its signature verified with the secret the registration returned,
    # and then the endpoint deleted, so nothing is left failing and retrying once the receiver is gone.
    assert re.search(rf"delivery \S+: claim\.created {seen['claim']} \(signature verified\)", out), out
    assert f"deleted webhook endpoint {seen['endpoint']}" in out, out


def check_sse(out: str, seen: dict[str, Any]) -> None:
    # limit=1: the one frame, and the stream ended (the step returned without a heartbeat's wait).
    lines = out.strip().splitlines()
    event = lines.index("event: claim.created")
    assert json.loads(lines[event + 1].removeprefix("data: "))["type"] == "claim.created", out


CHECKS = [
    check_keys,
    check_graphql,
    check_rest,
    check_webhook,
    check_write,
    check_sse,
]


def test_the_quickstart_runs_as_written() -> None:
    blocks = quickstart_blocks()
    assert blocks[0].strip() == "make run", blocks[0]
    assert len(blocks) - 1 == len(CHECKS), "a Quickstart block was added or removed: give it a check here"
    port, hook_port = free_port(), free_port()

    def localise(block: str) -> str:
        block = block.replace("localhost:8000", f"localhost:{port}")
        return block.replace("9000", str(hook_port))

    with tempfile.TemporaryDirectory(prefix="newsfacts-quickstart-") as folder:
        env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES}
        env.update({"DATA_DIR": folder, "PORT": str(port)})
        log_path = Path(folder) / "make-run.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 90
            while "newsfacts is ready" not in log_path.read_text():
                assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.2)
            script = ["exec 2>&1", "set -e"]
            for i, block in enumerate(blocks[1:]):
                script += [f"echo; echo '@@step {i}@@'", localise(block)]  # curl may end without a newline
            # Its own process group: the receiver step 3 leaves in the background is in it, and the
            # output ends when that receiver exits too (after its one delivery).
            shell = subprocess.Popen(
                ["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                start_new_session=True,
            )  # fmt: skip
            try:
                printed, _ = shell.communicate(timeout=120)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(shell.pid, signal.SIGTERM)  # a receiver still waiting deletes its endpoint
            outputs = re.split(r"\n@@step \d+@@\n", printed)[1:]
            assert shell.returncode == 0 and len(outputs) == len(CHECKS), printed[-3000:]
            seen: dict[str, Any] = {}
            for i, (check, out) in enumerate(zip(CHECKS, outputs, strict=True)):
                try:
                    check(out, seen)
                except Exception as exc:
                    raise AssertionError(f"Quickstart block {i + 2} ({check.__name__}) printed:\n{out}") from exc
            since_webhook = "".join(outputs[CHECKS.index(check_webhook) :])
            try:
                check_delivery(since_webhook, seen)
            except Exception as exc:
                raise AssertionError(f"The webhook's delivery, from step 3 on:\n{since_webhook}") from exc
        finally:
            os.killpg(server.pid, signal.SIGINT)  # Ctrl-C, as the Quickstart says
            server.wait(timeout=30)
        logged = log_path.read_text()
        assert "Finished server process" in logged, logged[-2000:]


def test_the_readme_stays_short() -> None:
    # Issue 29: a README read in five minutes; everything else belongs on the site (docs/).
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 160, f"README.md has {lines} lines: move the detail to its page under docs/"
