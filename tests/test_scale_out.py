"""Scale-out: nginx in front of two read-only Datasette replicas on loopback (scripts/scale_out.py).

Every replica serves identical data (same inspect hash, same bytes), both replicas answer through nginx, and the
proxy keeps the publication read-only. Throughput with N = 1 and N = 2 is measured by the script, not here."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from scripts.scale_out import NGINX, PATHS, Cluster
from scripts.site import ROOT


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from pathlib import Path

    if not Path(NGINX).exists():
        pytest.fail("nginx not found: `make browser-deps` installs Debian's nginx")
    with Cluster(2, work=tmp_path_factory.mktemp("scale")) as running:
        yield running


def test_every_replica_serves_identical_data(cluster):
    hashes = cluster.database_hashes()
    assert len(hashes) == 2
    assert hashes[0] == hashes[1]
    assert set(hashes[0]) == {"commissioning", "synthetic_demo"} and all(hashes[0].values())
    # Row data only: the default JSON shape also carries per-request timings (query_ms), which always differ.
    for path in ["/commissioning/boroughs.json?_shape=array&_size=max",
                 "/commissioning/funding_decisions.json?_shape=array&_size=max",
                 "/synthetic_demo/services.json?_shape=array&_size=max", "/commissioning/boroughs.csv?_size=max"]:
        bodies = {hashlib.sha256(httpx.get(url + path, timeout=30).content).hexdigest() for url in cluster.replica_urls}
        assert len(bodies) == 1, path


def test_nginx_spreads_requests_over_both_replicas(cluster):
    seen = set()
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        for i in range(30):
            response = client.get(PATHS[i % len(PATHS)])
            assert response.status_code == 200
            seen.add(response.headers["x-replica"])
    assert seen == {u.removeprefix("http://") for u in cluster.replica_urls}


def test_the_proxy_keeps_the_site_read_only(cluster):
    for method in ("POST", "PUT", "DELETE"):
        response = httpx.request(method, cluster.url + "/commissioning/boroughs", timeout=30)
        assert response.status_code in (403, 405)
    assert httpx.get(cluster.url + "/commissioning/boroughs.json?_shape=array", timeout=30).json()[0]["gss_code"]


def test_deployment_doc_names_the_commands(cluster):
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for needle in ("python -m scripts.scale_out", "Dockerfile", "inspect-data.json", "immutable"):
        assert needle in text
