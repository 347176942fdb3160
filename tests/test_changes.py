"""The change history (issues 8 and 14): computed from the git history of data/, the same on every clone.

The integration tests make a small git repository holding a copy of data/, commit known edits with fixed dates, and
build it exactly as publishing does (`python -m scripts.build_database --data DIR --out DB --today YYYY-MM-DD`).
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.publication import history
from scripts.publication.domains import changes
from scripts.site import ROOT

DATA = ROOT / "data"
EDITED_SERVICE = "the-havens"
NEW_DESCRIPTION = "Description edited by tests/test_changes.py."
NEW_SOURCE = "https://example.org/edited-by-test-changes"
ADDED_SERVICE = "test-change-log-added-service"
TRACKED = changes.TRACKED[0]  # services


# --- pure functions --------------------------------------------------------------------------------------------


def rows(*items: dict) -> dict:
    return {item["service_id"]: item for item in items}


def test_version_changes_reports_added_removed_each_changed_field_and_its_source():
    before = rows({"service_id": "a", "name": "A", "source_url": "u1"}, {"service_id": "b", "name": "B"})
    after = rows({"service_id": "a", "name": "A2", "source_url": "u2"}, {"service_id": "c", "name": "C"})
    found = changes.version_changes(TRACKED, before, after, {"a": "E09000001"}, {"a": "E09000001; E09000002"})
    assert [(r["entity_id"], r["change"], r["field"], r["old_value"], r["new_value"], r["source_url"]) for r in found] \
        == [
            ("a", "changed", "boroughs", "E09000001", "E09000001; E09000002", "u2"),
            ("a", "changed", "name", "A", "A2", "u2"),
            ("a", "changed", "source_url", "u1", "u2", "u2"),
            ("b", "removed", None, None, None, None),
            ("c", "added", None, None, None, None),
        ]


def test_identical_versions_and_a_new_empty_column_are_not_changes():
    same = rows({"service_id": "a", "name": "A"})
    assert changes.version_changes(TRACKED, same, same, {}, {}) == []
    widened = rows({"service_id": "a", "name": "A", "source_excerpt": ""})
    assert changes.version_changes(TRACKED, same, widened, {}, {}) == []


def test_a_file_outside_git_is_one_version_of_the_files_as_they_are(tmp_path):
    path = tmp_path / "services.csv"
    path.write_text("service_id,name\na,A\n", encoding="utf-8")
    versions = history.versions_together([path])
    assert [(commit, day) for commit, day, _ in versions] == [(history.WORKING_TREE, None)]


# --- a git repository of data/ ---------------------------------------------------------------------------------


def git(repo: Path, *args: str, day: str | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="Test", GIT_AUTHOR_EMAIL="test@example.org",
               GIT_COMMITTER_NAME="Test", GIT_COMMITTER_EMAIL="test@example.org")
    if day:
        env.update(GIT_AUTHOR_DATE=f"{day}T12:00:00+00:00", GIT_COMMITTER_DATE=f"{day}T12:00:00+00:00")
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout


def build(data: Path, out: Path, today: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.build_database", "--data", str(data), "--out", str(out), "--today", today],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def write_rows(path: Path, header: list[str], items: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(items)


def change_rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    return conn.execute(
        "SELECT change_id, changed_on, git_commit, entity, entity_id, entity_name, change, field, old_value, "
        "new_value, source_url FROM changes ORDER BY change_id").fetchall()


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> dict:
    """A git repository with data/ in three commits: as published; an edited service (new description and source),
    an added service and a retitled opportunity; the added service removed. Returns its path and what was edited."""
    repo = tmp_path_factory.mktemp("changes") / "repo"
    shutil.copytree(DATA, repo / "data")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "data")
    git(repo, "commit", "-q", "-m", "as published", day="2026-11-25")
    services_csv = repo / "data" / "services" / "services.csv"
    opportunities_csv = repo / "data" / "mopac" / "funding_opportunities.csv"
    header, services = read_rows(services_csv)
    opp_header, opportunities = read_rows(opportunities_csv)
    edited = [dict(r, description=NEW_DESCRIPTION, source_url=NEW_SOURCE) if r["service_id"] == EDITED_SERVICE
              else r for r in services]
    template = next(r for r in services if r["coverage"] == "london-wide" and not r["annual_value_gbp"]
                    and not r["total_value_gbp"])
    added = dict(template, service_id=ADDED_SERVICE, name="Service added by the change-log test",
                 funding_record_ids="", decision_refs="")
    write_rows(services_csv, header, [*edited, added])
    first = opportunities[0]
    write_rows(opportunities_csv, opp_header, [dict(first, title=first["title"] + " (retitled)"), *opportunities[1:]])
    git(repo, "commit", "-q", "-am", "an edit, an addition, a new title", day="2026-12-01")
    write_rows(services_csv, header, edited)
    git(repo, "commit", "-q", "-am", "the addition removed", day="2026-12-08")
    out = repo / "build" / "commissioning.db"
    build(repo / "data", out, "2026-12-10")
    commits = git(repo, "log", "--reverse", "--format=%H").split()
    return {"repo": repo, "db": out, "services": services, "opportunity": first, "commits": commits,
            "template_source": template["source_url"]}


def test_the_first_commit_records_everything_as_added(repository):
    history_rows = change_rows(repository["db"])
    first = [r for r in history_rows if r[2] == repository["commits"][0]]
    conn = sqlite3.connect(repository["db"])
    counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("funding_decisions", "funding_opportunities")]
    assert len(first) == len(repository["services"]) + sum(counts)
    assert {(r[1], r[6], r[7]) for r in first} == {("2026-11-25", "added", None)}
    assert [r[0] for r in history_rows] == list(range(1, len(history_rows) + 1))


def test_later_commits_record_each_field_with_its_date_and_source(repository):
    second = [r[3:] for r in change_rows(repository["db"]) if r[2] == repository["commits"][1]]
    old = next(s for s in repository["services"] if s["service_id"] == EDITED_SERVICE)
    title = repository["opportunity"]["title"]
    name = old["name"]
    assert sorted(second, key=str) == sorted([
        ("service", EDITED_SERVICE, name, "changed", "description", old["description"], NEW_DESCRIPTION, NEW_SOURCE),
        ("service", EDITED_SERVICE, name, "changed", "source_url", old["source_url"], NEW_SOURCE, NEW_SOURCE),
        ("service", ADDED_SERVICE, "Service added by the change-log test", "added", None, None, None,
         repository["template_source"]),
        ("opportunity", repository["opportunity"]["reference"], title + " (retitled)", "changed", "title", title,
         title + " (retitled)", repository["opportunity"]["source_url"]),
    ], key=str)
    third = [r[1:] for r in change_rows(repository["db"]) if r[2] == repository["commits"][2]]
    assert [(r[0], r[2], r[3], r[5]) for r in third] == [("2026-12-08", "service", ADDED_SERVICE, "removed")]


def test_two_clones_and_a_clean_build_publish_the_same_history(repository, tmp_path):
    published = change_rows(repository["db"])
    for name in ("clone-a", "clone-b"):
        clone = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(repository["repo"]), str(clone)], check=True)
        out = clone / "build" / "commissioning.db"
        build(clone / "data", out, "2026-12-10")
        assert change_rows(out) == published
    out = repository["repo"] / "build" / "commissioning.db"
    out.unlink()  # make clean
    build(repository["repo"] / "data", out, "2026-12-10")
    assert change_rows(out) == published


def test_an_uncommitted_edit_shows_under_the_working_tree_with_the_build_date(repository, tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repository["repo"]), str(clone)], check=True)
    services_csv = clone / "data" / "services" / "services.csv"
    header, services = read_rows(services_csv)
    write_rows(services_csv, header, [dict(s, name=s["name"] + " (renamed)") if s["service_id"] == EDITED_SERVICE
                                      else s for s in services])
    out = clone / "build" / "commissioning.db"
    build(clone / "data", out, "2026-12-11")
    pending = [r for r in change_rows(out) if r[2] == history.WORKING_TREE]
    assert [(r[1], r[4], r[7]) for r in pending] == [("2026-12-11", EDITED_SERVICE, "name")]


@pytest.mark.asyncio(loop_scope="session")
async def test_modified_after_returns_exactly_the_services_changed_since(repository):
    from scripts.site import make_datasette

    datasette = make_datasette([repository["db"]])
    await datasette.invoke_startup()

    async def ids(query: str) -> set[str]:
        response = await datasette.client.get(f"/openreferral/services?per_page=500&{query}")
        assert response.status_code == 200, response.text
        return {item["x_commissioning"]["service_id"] for item in response.json()["contents"]}

    everything = {s["service_id"] for s in repository["services"]}
    assert await ids("modified_after=2026-12-01") == {EDITED_SERVICE}
    assert await ids("modified_after=2026-12-01T00:00:01Z") == set()
    assert await ids("modified_after=2026-11-25") == everything
    detail = (await datasette.client.get(f"/openreferral/services/{EDITED_SERVICE}")).json()
    assert detail["last_modified"] == "2026-12-01T00:00:00Z"


def test_check_finds_published_rows_without_an_added_entry():
    import sqlite_utils

    db = sqlite_utils.Database(memory=True)
    db["services"].insert_all([{"service_id": "a"}, {"service_id": "b"}], pk="service_id")
    db["changes"].create(changes.COLUMNS, pk="change_id")
    base = {"changed_on": "2026-11-25", "git_commit": "c1", "entity": "service"}
    db["changes"].insert_all([
        {**base, "change_id": 1, "entity_id": "a", "change": "added"},
        {**base, "change_id": 2, "entity_id": "b", "change": "added"},
        {**base, "change_id": 3, "entity_id": "b", "change": "removed"},
        {**base, "change_id": 4, "entity_id": "a", "change": "changed"},
    ])
    problems = changes.check(db)
    assert [p.reason for p in problems] == [
        "malformed change-log row",  # change_id 4: changed without a field
        "service b has no 'added' entry",
    ]


def test_opportunity_feed_dates_come_from_the_history(repository):
    conn = sqlite3.connect(repository["db"])
    dates = {r[0]: r[1:] for r in conn.execute(
        "SELECT reference, first_seen_on, last_changed_on FROM funding_opportunities")}
    retitled = repository["opportunity"]["reference"]
    assert dates[retitled] == ("2026-11-25", "2026-12-01")
    assert {v for k, v in dates.items() if k != retitled} == {("2026-11-25", "2026-11-25")}
