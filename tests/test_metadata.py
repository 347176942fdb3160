"""The served metadata is generated at build from metadata.yml and data/: each fact written once."""

from __future__ import annotations

import json

import pytest
import yaml

from scripts.publication import metadata as generated
from scripts.publication.package import load_package
from scripts.site import ROOT, load_metadata

DATA = ROOT / "data"


def committed() -> dict:
    return yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))


def test_metadata_yml_states_no_fact_that_data_already_states():
    package = load_package(DATA)
    for database in committed()["databases"].values():
        for name, table in (database.get("tables") or {}).items():
            resource = package.resources.get(name)
            if resource is None or not resource.schema:
                continue
            table = table or {}
            assert not set(table) & set(generated.SCHEMA_KEYS), name
            assert not set(table.get("columns") or {}) & set(resource.field_names), name


def test_served_metadata_takes_titles_and_descriptions_from_the_package():
    package = load_package(DATA)
    served = load_metadata()["databases"]
    for database in ("commissioning", "synthetic_demo"):
        tables = served[database]["tables"]
        for resource in package.csv_resources():
            meta = tables[resource.name]
            assert meta["title"] == resource.descriptor["title"]
            assert meta["description"] == resource.schema["description"]
            for field in resource.fields:
                assert meta["columns"][field["name"]] == field["description"], f"{resource.name}.{field['name']}"


def test_a_repeated_schema_fact_is_refused_with_its_key():
    package = load_package(DATA)
    meta = committed()
    meta["databases"]["commissioning"]["tables"]["services"]["description"] = "written twice"
    with pytest.raises(generated.MetadataError, match=r"tables\.services sets description"):
        generated.build_metadata(meta, package)
    meta = committed()
    meta["databases"]["commissioning"]["tables"]["services"]["columns"]["name"] = "written twice"
    with pytest.raises(generated.MetadataError, match=r"services\.columns describes name"):
        generated.build_metadata(meta, package)


def test_synthetic_dashboards_are_the_real_ones_on_the_synthetic_database():
    boards = load_metadata()["plugins"]["datasette-dashboards"]
    for real, twin in (("vru", "vru-synthetic"), ("performance", "performance-synthetic")):
        assert "synthetic_of" not in boards[twin]
        assert boards[twin]["layout"] == boards[real]["layout"]
        assert set(boards[twin]["charts"]) == set(boards[real]["charts"])
        text = json.dumps(boards[twin])
        assert '"db": "commissioning"' not in text and '"db": "synthetic_demo"' in text
        assert "SYNTHETIC" in boards[twin]["title"] and "SYNTHETIC" not in boards[real]["title"]
        for name, chart in boards[real]["charts"].items():
            if chart.get("query"):
                assert boards[twin]["charts"][name]["query"] == chart["query"], name


def test_synthetic_of_an_unknown_dashboard_is_refused():
    with pytest.raises(generated.MetadataError, match="synthetic_of names no real dashboard"):
        generated.expand_dashboards({"x": {"synthetic_of": "missing"}})
