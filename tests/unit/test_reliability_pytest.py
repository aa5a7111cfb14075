"""Issue 14 item 8: a bare `pytest` at the repository root collects, and leaves Docker alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bare_pytest_at_the_root_collects_and_skips_integration_unless_asked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/integration"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin"},  # no GILBENCH_INTEGRATION
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " skipped" in done.stdout and "passed" not in done.stdout
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert collected.returncode == 0, collected.stdout[-2000:]
    assert "error" not in collected.stdout.splitlines()[-1]
    assert "tests/integration/test_images_built.py" in collected.stdout
