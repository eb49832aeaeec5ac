"""Opt-in stress test: every chapter executed MODGROW_STRESS_RUNS times in a row must never
stall (tools/stress_execute.py; `make stress` runs the same). A round of the 11 pages took about
3 minutes on the 2-core machine with two training runs on its cores (20 rounds: 63 minutes):

    MODGROW_STRESS_RUNS=20 .venv/bin/python -m pytest tests/test_stress_execute.py -s
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("MODGROW_STRESS_RUNS", "0") or 0)


@pytest.mark.skipif(RUNS <= 0, reason="opt-in: set MODGROW_STRESS_RUNS (e.g. 20)")
def test_chapters_never_stall():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "stress_execute.py"),
                           "-n", str(RUNS), "--timeout", "60", "--stall-after", "30"],
                          cwd=ROOT, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, "a chapter stalled or failed: see the report above"
