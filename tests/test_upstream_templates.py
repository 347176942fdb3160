"""Templates in templates/ that share a name with an installed upstream template (Datasette's or a plugin's) override
it. tests/upstream_templates.json records, for each, the sha256 of the upstream file it was written against and why
it is needed: `copy` (a modified copy: no upstream block can make the change), `wraps` (includes the original by its
"default:" name and adds to it) or `replaces` (the publication's own page). When a pinned package changes one of
those files, these tests fail and print the diff between the installed original and the copy here, to merge by hand
and record again (see the module's last test for the command).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.metadata
import json
import re
from pathlib import Path

import datasette
import pytest
from datasette.plugins import get_plugins

from scripts.site import ROOT

TEMPLATES = ROOT / "templates"
RECORD = ROOT / "tests" / "upstream_templates.json"
SITE_PACKAGES = Path(datasette.__file__).resolve().parent.parent
RECORDED = json.loads(RECORD.read_text(encoding="utf-8"))


def upstream_template_dirs() -> dict[str, Path]:
    dirs = {"datasette": Path(datasette.__file__).resolve().parent / "templates"}
    for plugin in get_plugins():
        if plugin.get("templates_path"):
            dirs[plugin["name"]] = Path(plugin["templates_path"]).resolve()
    return dirs


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def diff(upstream: Path, ours: Path) -> str:
    return "".join(difflib.unified_diff(
        upstream.read_text(encoding="utf-8").splitlines(keepends=True),
        ours.read_text(encoding="utf-8").splitlines(keepends=True),
        fromfile=f"installed {upstream}", tofile=f"templates/{ours.name}"))


def test_every_override_of_an_upstream_template_is_recorded():
    overrides = {}
    for package, folder in upstream_template_dirs().items():
        for ours in TEMPLATES.rglob("*.html"):
            name = str(ours.relative_to(TEMPLATES))
            if (folder / name).exists():
                overrides.setdefault(name, set()).add(package)
    recorded = {name: {u["package"] for u in entry["upstream"]} for name, entry in RECORDED.items()}
    assert overrides == recorded, (
        "templates/ overrides upstream templates not recorded in tests/upstream_templates.json (or records one that "
        "no longer exists): prefer {% extends \"default:<name>\" %} or an upstream block; if a copy must stay, "
        "record it")


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_upstream_original_is_the_one_the_override_was_written_against(name):
    entry = RECORDED[name]
    assert entry["kind"] in ("copy", "wraps", "replaces") and entry["why"]
    ours = TEMPLATES / name
    for upstream in entry["upstream"]:
        installed = SITE_PACKAGES / upstream["path"]
        assert installed.exists(), f"{upstream['package']} no longer ships {upstream['path']}"
        version = importlib.metadata.version(upstream["package"])
        changed = sha256(installed) != upstream["sha256"]
        assert not changed and version == upstream["version"], (
            f"{upstream['package']} {version} (recorded {upstream['version']}) "
            f"{'changed' if changed else 'kept'} {upstream['path']}; templates/{name} ({entry['kind']}) was written "
            f"against the recorded one. Merge the change, then record the new sha256. Installed original vs ours:\n"
            + diff(installed, ours))


@pytest.mark.parametrize("name", sorted(n for n, e in RECORDED.items() if e["kind"] == "wraps"))
def test_a_wrapper_includes_the_original_and_copies_nothing(name):
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    assert re.search(r'{%\s*(include|extends)\s+"default:' + re.escape(name) + r'"\s*%}', text), name
    original = (SITE_PACKAGES / RECORDED[name]["upstream"][0]["path"]).read_text(encoding="utf-8")
    copied = [line for line in original.splitlines() if len(line.strip()) > 30 and line in text.splitlines()]
    assert not copied, f"templates/{name} repeats upstream lines instead of including them: {copied[:3]}"


@pytest.mark.parametrize("name", sorted(n for n, e in RECORDED.items() if e["kind"] == "copy"))
def test_a_copy_says_what_it_is_copied_from(name):
    first_lines = "\n".join((TEMPLATES / name).read_text(encoding="utf-8").splitlines()[:3])
    packages = [u["package"] for u in RECORDED[name]["upstream"]]
    assert any(re.search("[- ]".join(map(re.escape, p.split("-"))), first_lines, re.I) for p in packages), (
        f"templates/{name} should open with a comment naming the upstream template it copies")


def test_the_recorded_hashes_can_be_remade():
    """The record is what this prints (run it after merging an upstream change):
    .venv/bin/python -c "from tests.test_upstream_templates import remake; remake()"."""
    assert remake(write=False) == RECORDED


def remake(write: bool = True) -> dict:
    dirs = upstream_template_dirs()
    record = {}
    for name, entry in RECORDED.items():
        upstream = []
        for package, folder in dirs.items():
            if (folder / name).exists():
                upstream.append({"package": package, "version": importlib.metadata.version(package),
                                 "path": str((folder / name).relative_to(SITE_PACKAGES)),
                                 "sha256": sha256(folder / name)})
        record[name] = {"kind": entry["kind"], "why": entry["why"], "upstream": upstream}
    if write:
        RECORD.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record
