"""Issue 14 items 3 and 6 on a real engine: runner containers are hardened and die at their own
deadline even when nobody (no harness) is left to kill them.

Uses a tiny image made from the harness's Debian base (gilbench/base:trixie) plus the uid-10001
user every runtime image has (and a folder that user owns); it is removed afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.measure.backends import docker as docker_backend
from harness.measure.backends.base import ExecRequest

BASE = "gilbench/base:trixie"
TAG = "gilbench-test/hardening:latest"
DOCKERFILE = f"""FROM {BASE}
RUN useradd --create-home --uid 10001 gilbench && mkdir /owned && chown gilbench /owned
ENTRYPOINT ["/bin/sh", "-c"]
"""
PROBE = (
    "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
    "for d in /owned /home/gilbench /tmp; do "
    "if touch $d/gilbench-w 2>/dev/null; then echo writable $d; else echo readonly $d; fi; done"
)


@pytest.fixture(scope="module")
def image(backend, tmp_path_factory):
    if backend.image(BASE) is None:
        pytest.skip(f"{BASE} is not built here")
    context: Path = tmp_path_factory.mktemp("hardening")
    (context / "Dockerfile").write_text(DOCKERFILE)
    backend.build(context, "Dockerfile", TAG, {}, {"gilbench.test": "hardening"}, lambda _: None)
    yield TAG
    backend.remove_image(TAG)


def _run(backend, image: str, script: str, total_timeout_s: float = 60) -> tuple[list[str], object]:
    lines: list[str] = []
    request = ExecRequest("hardening", image, (script,), idle_timeout_s=total_timeout_s,
                          total_timeout_s=total_timeout_s, memory="256m")
    return lines, backend.execute(request, lines.append)


def test_runner_containers_have_no_capabilities_and_a_read_only_root(backend, image):
    lines, outcome = _run(backend, image, PROBE)
    assert outcome.exit_code == 0, outcome.stderr_tail
    facts = {line.split(":")[0]: line.split()[-1] for line in lines if ":" in line}
    assert facts == {"CapEff": "0000000000000000", "NoNewPrivs": "1"}
    assert "readonly /owned" in lines  # owned by the runner's uid, yet the root is read-only
    assert {"writable /home/gilbench", "writable /tmp"} <= set(lines)


def test_the_in_container_deadline_kills_without_the_harness(backend, image, monkeypatch):
    # a 3 s deadline inside the container, while the harness would wait 60 s: only the
    # `timeout -s KILL` wrapper can end it this early
    monkeypatch.setattr(docker_backend, "DEADLINE_MARGIN_S", 3 - 60)
    _, outcome = _run(backend, image, "echo started; sleep 50", total_timeout_s=60)
    assert outcome.exit_code == 137 and outcome.timed_out is None
    assert outcome.duration_s < 50
