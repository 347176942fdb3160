"""The metadata Datasette serves, generated at build: metadata.yml plus what data/ already says.

Each fact is written once. For every table loaded from a CSV, its title and licence come from
data/datapackage.json, its description and column descriptions from its Table Schema in data/schemas/;
metadata.yml holds only what is not there (site text, facets, sort orders, derived tables and views, canned
queries, dashboards, descriptions of the columns the build derives). metadata.yml may not repeat a schema fact:
the build refuses it, naming the key.

Dashboards are written once, for the real database: a dashboard with `synthetic_of: <name>` is the named
dashboard on the synthetic demo database (every `db:` replaced), with its own title, description and any
chart fields it overrides under `charts`.

    python -m scripts.publication.metadata --data data --out build/metadata.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path

import yaml

from .package import load_package

ROOT = Path(__file__).resolve().parents[2]
REAL_DB, SYNTHETIC_DB = "commissioning", "synthetic_demo"
SCHEMA_KEYS = ("title", "description", "license", "license_url", "source", "source_url")


class MetadataError(ValueError):
    """metadata.yml repeats or contradicts data/; the message names the key."""


def schema_metadata(package) -> dict[str, dict]:
    """Table metadata of every CSV-backed resource, from its datapackage entry and its Table Schema."""
    tables = {}
    for name, resource in package.resources.items():
        if not resource.schema:
            continue
        entry = resource.descriptor
        meta = {
            "title": entry.get("title") or name,
            "description": resource.schema.get("description", ""),
            "columns": {f["name"]: f.get("description", "") for f in resource.schema["fields"]},
        }
        sources = entry.get("sources") or []
        if sources:
            meta["source"] = "; ".join(s["title"] for s in sources)
            meta["source_url"] = sources[0].get("path")
        licences = entry.get("licenses") or []
        if licences:
            meta["license"] = licences[0].get("title") or licences[0].get("name")
            meta["license_url"] = licences[0].get("path")
        tables[name] = {k: v for k, v in meta.items() if v}
    return tables


def merge_tables(committed: dict, generated: dict) -> dict:
    """Committed table settings plus the generated schema facts; a committed schema fact is an error."""
    tables = copy.deepcopy(committed)
    for name, facts in generated.items():
        own = tables.get(name) or {}
        repeated = sorted(k for k in SCHEMA_KEYS if k in own)
        if repeated:
            raise MetadataError(
                f"metadata.yml: databases.*.tables.{name} sets {', '.join(repeated)}, which data/ already states "
                f"(data/datapackage.json and data/schemas/{name}.json): remove them from metadata.yml"
            )
        derived = own.get("columns") or {}
        repeated = sorted(set(derived) & set(facts["columns"]))
        if repeated:
            raise MetadataError(
                f"metadata.yml: databases.*.tables.{name}.columns describes {', '.join(repeated)}, which "
                f"data/schemas/{name}.json already describes: remove them from metadata.yml"
            )
        tables[name] = {**facts, **own, "columns": {**facts["columns"], **derived}}
    return tables


def _with_database(value, database: str):
    """A deep copy of a dashboard part with every `db:` pointing at `database`."""
    if isinstance(value, dict):
        return {k: (database if k == "db" else _with_database(v, database)) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_database(v, database) for v in value]
    return value


def expand_dashboards(dashboards: dict) -> dict:
    out = {}
    for name, board in dashboards.items():
        original = board.get("synthetic_of")
        if original is None:
            out[name] = board
            continue
        if original not in dashboards or "synthetic_of" in dashboards[original]:
            raise MetadataError(f"metadata.yml: dashboard {name}: synthetic_of names no real dashboard ({original})")
        twin = _with_database(dashboards[original], SYNTHETIC_DB)
        twin.update({k: v for k, v in board.items() if k not in ("synthetic_of", "charts")})
        for chart, changes in (board.get("charts") or {}).items():
            if chart not in twin["charts"]:
                raise MetadataError(f"metadata.yml: dashboard {name}: chart {chart} is not in {original}")
            twin["charts"][chart] = {**twin["charts"][chart], **changes}
        out[name] = twin
    return out


def build_metadata(committed: dict, package) -> dict:
    metadata = copy.deepcopy(committed)
    generated = schema_metadata(package)
    for database in (metadata.get("databases") or {}).values():
        database["tables"] = merge_tables(database.get("tables") or {}, generated)
    dashboards = (metadata.get("plugins") or {}).get("datasette-dashboards")
    if dashboards:
        metadata["plugins"]["datasette-dashboards"] = expand_dashboards(dashboards)
    return metadata


def write_metadata(yaml_path: Path, data_dir: Path, out_path: Path) -> dict:
    committed = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    metadata = build_metadata(committed, load_package(data_dir))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(metadata, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, out_path)
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the metadata Datasette serves: metadata.yml + data/.")
    parser.add_argument("--metadata", type=Path, default=ROOT / "metadata.yml")
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "metadata.json")
    args = parser.parse_args(argv)
    try:
        write_metadata(args.metadata, args.data, args.out)
    except MetadataError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
