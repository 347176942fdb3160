"""Served from the build only (issue 16): every page works from the image's file set, which has no data/ and no
build code (scripts/publication/).

The file set is read from the Dockerfile's COPY lines (less what .dockerignore leaves out), copied into a temporary
folder, and served there as the image's CMD serves it (`python -m scripts.site`, PYTHONPATH set to that folder) on a
free loopback port. The walk: home, each database, every table and view of both databases (first page, HTML and
JSON), one row page per table, every canned query, every custom page, the Open Referral API, the dashboards and their
charts, the LCPF, services-near-me and VRU programme pages, robots.txt and sitemap.xml. Each must answer 200 with no
traceback, and the server must log none.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from datasette.utils import tilde_encode

from plugins.view_models import findable
from scripts.site import ROOT
from tests.conftest import free_port

BUILD_ONLY = ["data", "scripts/publication"]


def dockerignore_patterns() -> list[tuple[bool, str]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return patterns


def pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regular expression: `**/` any folders (or none), `*` and `?` within one name."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignored(relative: str, patterns) -> bool:
    """Docker's rule: the last pattern matching the file or one of its folders decides."""
    parts = relative.split("/")
    paths = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for negated, pattern in patterns:
        regex = pattern_regex(pattern.lstrip("/"))
        if any(regex.fullmatch(path) for path in paths):
            result = not negated
    return result


def image_file_set() -> list[tuple[Path, str]]:
    """(source file, path in the image's WORKDIR) for every file the Dockerfile copies from the build context."""
    patterns = dockerignore_patterns()
    files = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        words = shlex.split(line)
        if any(w.startswith("--from") for w in words):
            continue
        *sources, destination = [w for w in words[1:] if not w.startswith("--")]
        for source in sources:
            matches = sorted(ROOT.glob(source.rstrip("/"))) or pytest.fail(f"Dockerfile copies missing {source}")
            for match in matches:
                found = [match] if match.is_file() else sorted(p for p in match.rglob("*") if p.is_file())
                for path in found:
                    relative = str(path.relative_to(ROOT))
                    if ignored(relative, patterns):
                        continue
                    if destination.endswith("/"):
                        inside = path.relative_to(match) if match.is_dir() else Path(path.name)
                        target = str(Path(destination) / inside)
                    else:
                        target = destination
                    files.append((path, target.removeprefix("./")))
    return files


def test_dockerignore_reading():
    patterns = [(False, "build/*"), (True, "build/commissioning.db"), (False, "**/__pycache__"), (False, "data")]
    assert ignored("build/x.db", patterns)
    assert not ignored("build/commissioning.db", patterns)
    assert ignored("plugins/__pycache__/a.pyc", patterns)
    assert ignored("data/services/services.csv", patterns)
    assert not ignored("plugins/a.py", patterns)


def test_the_image_copies_what_serving_needs_and_no_build_code_or_data():
    targets = {target for _source, target in image_file_set()}
    for needed in ["scripts/site.py", "scripts/__init__.py", "build/commissioning.db", "build/synthetic_demo.db",
                   "build/inspect-data.json", "build/metadata.json", "templates/base.html", "static/site.css",
                   "plugins/view_models/__init__.py", "scripts/common/__init__.py"]:
        assert needed in targets, needed
    wrong = [t for t in targets if any(t == b or t.startswith(b + "/") for b in BUILD_ONLY) or "__pycache__" in t]
    assert not wrong, f"the image must not carry build code or data/: {wrong[:5]}"


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory):
    tree = tmp_path_factory.mktemp("image") / "app"
    for source, target in image_file_set():
        (tree / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, tree / target)
    assert not (tree / "data").exists() and not (tree / "scripts" / "publication").exists()
    return tree


@pytest.fixture(scope="module")
def image_server(image_tree):
    port = free_port()
    log_path = image_tree.parent / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(image_tree), PYTHONDONTWRITEBYTECODE="1")
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "scripts.site", "-h", "127.0.0.1", "-p", str(port)],
                                   cwd=image_tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/-/versions.json", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail("datasette did not start from the image's files:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)
    yield url, log_path
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def get_json(base: str, path: str):
    status, body = get(base + path)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def pages_to_walk(base: str) -> list[str]:
    """Every page, found from the running server's own JSON (so the walk follows what is served)."""
    pages = ["/", "/robots.txt", "/sitemap.xml", "/-/dashboards", "/openreferral/", "/openreferral/openapi.json",
             "/openreferral/services", "/openreferral/taxonomies", "/openreferral/taxonomy_terms", "/boroughs",
             *findable.PAGES]
    databases = [d["name"] for d in get_json(base, "/-/databases.json") if d["name"] != "_internal"]
    for db in databases:
        info = get_json(base, f"/{db}.json")
        pages += [f"/{db}", f"/{db}/-/lcpf", f"/{db}/-/lcpf-explorer", f"/{db}/-/lcpf-explorer.json",
                  f"/{db}/-/services-near-me", f"/{db}/-/services-near-me?q=SE1", f"/{db}/openreferral/services"]
        for table in info["tables"] + info["views"]:
            path = f"/{db}/{tilde_encode(table['name'])}"
            pages += [path, path + ".json"]
            if table in info["tables"] and not table["hidden"]:  # views and full-text index tables: no row pages
                first = get_json(base, f"{path}.json?_size=1&_shape=objects")
                pks = first.get("primary_keys") or ["rowid"]
                if first["rows"]:
                    pages.append(f"{path}/" + ",".join(tilde_encode(str(first["rows"][0][pk])) for pk in pks))
        pages += [f"/{db}/{tilde_encode(q['name'])}" for q in info["queries"]]
        programmes = get_json(base, f"/{db}/vru_programmes.json?_shape=arrayfirst&_col=programme&_size=max")
        pages += [f"/{db}/-/vru-programme?{urlencode({'programme': p})}" for p in programmes]
        services = get_json(base, f"/{db}/services.json?_shape=arrayfirst&_size=3")
        pages += [f"/performance/service?{urlencode({'service_id': s, 'db': db})}" for s in services]
        pages += [f"/{db}/openreferral/services/{quote(s)}" for s in services[:1]]
        pages += [f"/{p}?db={db}" for p in ("opportunities", "performance", "performance/committee-pack", "boroughs")]
    boroughs = get_json(base, "/commissioning/boroughs.json?_shape=arrayfirst&_col=name&_size=max")
    pages += [f"/boroughs/{quote(findable.slug(b))}" for b in boroughs]
    pages.append("/borough-feeds")
    for slug, dashboard in get_json(base, "/-/metadata.json")["plugins"]["datasette-dashboards"].items():
        pages.append(f"/-/dashboards/{slug}")
        pages += [f"/-/dashboards/{slug}/{chart}" for chart in dashboard.get("charts", {})]
    return list(dict.fromkeys(pages))


def test_every_page_serves_from_the_image_files_without_data(image_server):
    base, log_path = image_server
    pages = pages_to_walk(base)
    assert len(pages) > 300
    failed = []
    for path in pages:
        status, body = get(base + path)
        if status != 200 or "Traceback (most recent call last)" in body:
            failed.append((path, status, body[body.find("<main"):][:300] if "<main" in body else body[:300]))
    log = log_path.read_text()
    assert not failed, f"{len(failed)} of {len(pages)} pages failed from the image's files: {failed[:10]}"
    assert "Traceback" not in log, log[log.index("Traceback"):][:3000]
