"""``bench/bench_portal.py --smoke`` runs end to end: a scratch database with a tiny year, gunicorn with the
production worker settings, Locust users logging in with password and TOTP and reading each role's pages and
downloads, then the same during an intake. It checks that the bench works, not how fast (no timed assertion)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_portal_bench_smoke_run() -> None:
    # The bench sets Django up itself (development settings without DEBUG), in a scratch database of its own:
    # a new PostgreSQL database beside DATABASE_URL's when it names one, else a temporary SQLite file.
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_portal.py"), "--smoke"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "smoke run: every phase ran and every request succeeded" in out
    alone, _, during = out.partition("while an archive of 100 records is checked")
    for phase in (alone, during):
        assert "record page" in phase  # the personal-data pages were read in both phases
        assert "all requests" in phase
    assert "the intake: 100 records (100 accepted)" in during
