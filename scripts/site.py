"""How the publication is served: one place for Datasette's settings, used by `make serve` and by the tests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
DATABASES = ["commissioning.db", "synthetic_demo.db"]
INSPECT_FILE = BUILD / "inspect-data.json"
# metadata.yml plus the titles, licences and column descriptions in data/, written by the build
# (scripts/publication/metadata.py): serving reads only build/.
METADATA_FILE = BUILD / "metadata.json"

# Chosen for a public site: a short SQL time limit so one heavy query cannot hold a thread, a row cap
# that still lets boroughs fetch whole tables as JSON, facet suggestions off (they run extra queries
# on every table page), and an hour of HTTP caching since the databases are immutable between builds.
SETTINGS = {
    "sql_time_limit_ms": 3000,
    "max_returned_rows": 5000,
    "default_page_size": 50,
    "suggest_facets": False,
    "facet_time_limit_ms": 500,
    "default_cache_ttl": 3600,
    "allow_csv_stream": True,
    "max_csv_mb": 100,
    "num_sql_threads": 3,
    "truncate_cells_html": 2048,
}


def cli_args() -> list[str]:
    args = []
    for name in DATABASES:
        args += ["-i", str(BUILD / name)]
    if INSPECT_FILE.exists():
        args += ["--inspect-file", str(INSPECT_FILE)]
    args += [
        "--metadata", str(METADATA_FILE),
        "--plugins-dir", str(ROOT / "plugins"),
        "--template-dir", str(ROOT / "templates"),
        "--static", f"static:{ROOT / 'static'}",
        "--cors",
    ]
    for name, value in SETTINGS.items():
        args += ["--setting", name, json.dumps(value) if isinstance(value, bool) else str(value)]
    return args


def load_metadata() -> dict:
    return json.loads(METADATA_FILE.read_text(encoding="utf-8"))


def make_datasette(database_paths: list[Path] | None = None):
    """A Datasette configured exactly as `make serve` runs it, for `datasette.client` tests."""
    from datasette.app import Datasette

    paths = database_paths or [BUILD / name for name in DATABASES]
    inspect_data = json.loads(INSPECT_FILE.read_text()) if INSPECT_FILE.exists() and database_paths is None else None
    return Datasette(
        immutables=[str(p) for p in paths],
        inspect_data=inspect_data,
        metadata=load_metadata(),
        plugins_dir=str(ROOT / "plugins"),
        template_dir=str(ROOT / "templates"),
        static_mounts=[("static", str(ROOT / "static"))],
        settings=SETTINGS,
        cors=True,
    )


if __name__ == "__main__":
    # `python -m scripts.site -h 127.0.0.1 -p 8001` runs `datasette serve` with the publication's arguments.
    datasette = Path(sys.executable).parent / "datasette"
    os.execv(datasette, [str(datasette), "serve", *cli_args(), *sys.argv[1:]])
