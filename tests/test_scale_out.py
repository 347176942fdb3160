"""Scale-out: nginx in front of two read-only Datasette replicas on loopback (scripts/scale_out.py).

Every replica serves identical data (same inspect hash, same bytes), both replicas answer through nginx, nginx's
proxy_cache keeps what the replicas mark cacheable (a second request is a HIT) and nothing else, and the proxy keeps
the publication read-only. Throughput with N = 1 and N = 2 is measured by the script, not here."""

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
            # A different address each time, so that each one reaches a replica rather than nginx's cache.
            response = client.get(f"/commissioning/boroughs.json?_shape=array&_size={i + 1}")
            assert response.status_code == 200 and response.headers["x-cache-status"] == "MISS"
            seen.add(response.headers["x-replica"])
    assert seen == {u.removeprefix("http://") for u in cluster.replica_urls}


@pytest.mark.parametrize("path", [*PATHS, "/synthetic_demo/services", "/commissioning/opportunities_feed.atom"])
def test_second_request_is_a_cache_hit(cluster, path):
    with httpx.Client(base_url=cluster.url, timeout=30, headers={"accept-encoding": "identity"}) as client:
        first = client.get(path)
        second = client.get(path)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache-status"] in ("MISS", "HIT")  # HIT if an earlier test asked for it
    assert second.headers["x-cache-status"] == "HIT"
    assert "x-replica" not in second.headers  # answered by nginx alone (an empty header is not sent)
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert second.headers["cache-control"].startswith("public, max-age=")


def test_cache_keeps_nothing_that_is_not_marked_cacheable(cluster):
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        missing = [client.get("/commissioning/no_such_table.json") for _ in range(2)]
        live = [client.get("/-/versions.json") for _ in range(2)]
        personal = [client.get("/commissioning/boroughs.json?_shape=array", headers={"cookie": "ds_actor=x"})
                    for _ in range(2)]
    assert [r.status_code for r in missing] == [404, 404]
    assert [r.headers["x-cache-status"] for r in missing + live] == ["MISS"] * 4
    assert [r.headers["x-cache-status"] for r in personal] == ["BYPASS"] * 2
    assert personal[1].headers["cache-control"] == "private, no-store"


def test_replicas_answer_304_to_the_current_build(cluster):
    path = "/commissioning/boroughs.json?_shape=array"
    etags = set()
    for url in cluster.replica_urls:
        first = httpx.get(url + path, timeout=30)
        again = httpx.get(url + path, headers={"if-none-match": first.headers["etag"]}, timeout=30)
        assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]
        etags.add(first.headers["etag"])
    assert len(etags) == 1  # the same build version on every replica: nginx may revalidate with either


def test_the_proxy_keeps_the_site_read_only(cluster):
    for method in ("POST", "PUT", "DELETE"):
        response = httpx.request(method, cluster.url + "/commissioning/boroughs", timeout=30)
        assert response.status_code in (403, 405)
    assert httpx.get(cluster.url + "/commissioning/boroughs.json?_shape=array", timeout=30).json()[0]["gss_code"]


def test_deployment_doc_names_the_commands(cluster):
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for needle in ("python -m scripts.scale_out", "Dockerfile", "inspect-data.json", "immutable", "proxy_cache",
                   "X-Cache-Status", "ETag", "If-None-Match"):
        assert needle in text
