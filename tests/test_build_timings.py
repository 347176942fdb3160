"""`python -m scripts.build_database --timings` reports seconds per build phase as one JSON line on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

from scripts.site import ROOT
from tests.build_helpers import BUILD_DATE, DATA

PHASES = {
    "read_validate",
    "cross_file_checks",
    "load",
    "indexes_fts",
    "post_build_checks",
    "analyze_vacuum",
    "total",
}


def build(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.build_database",
            "--data",
            str(DATA),
            "--out",
            str(tmp_path / "t.db"),
            "--today",
            BUILD_DATE,
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_timings_flag_prints_one_json_line_with_every_phase(tmp_path):
    result = build(tmp_path, "--timings")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("timings: ")]
    assert len(lines) == 1
    timings = json.loads(lines[0].removeprefix("timings: "))
    assert PHASES <= set(timings)
    derive = {key.removeprefix("derive:") for key in timings if key.startswith("derive:")}
    assert {"services", "performance", "changes"} <= derive
    assert all(isinstance(seconds, (int, float)) and seconds >= 0 for seconds in timings.values())
    assert timings["total"] >= sum(v for k, v in timings.items() if k != "total") - 0.01 * len(timings)


def test_no_timings_line_without_the_flag(tmp_path):
    result = build(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "timings: " not in result.stderr
