"""Scale out on one host: nginx (Debian package) in front of N read-only Datasette replicas on loopback.

    python -m scripts.scale_out --replicas 1 2 --seconds 15     # throughput with N = 1 and N = 2
    python -m scripts.scale_out --serve 2 --port 8080            # run N = 2 behind nginx until Ctrl+C
    python -m scripts.scale_out --print-config                   # the nginx configuration, with its cache

Each replica is `python -m scripts.site` (the same immutable databases and inspect file), so every replica serves
byte-identical data: the inspect hashes in /-/databases.json are compared before any load is sent. nginx adds an
`X-Replica` header naming the upstream that answered, which the test uses to see that both replicas serve.

nginx also caches (`proxy_cache`, the shipped deployment's cached path): the replicas mark their answers cacheable
with the build version as ETag and `Cache-Control: public, max-age=...` (plugins/http_caching.py), nginx keeps them
for that long, revalidates with If-None-Match (a 304 costs the replica almost nothing) and says `X-Cache-Status`
(MISS, HIT, REVALIDATED, ...). Requests with a cookie or an Authorization header bypass it. `--no-cache` turns it
off (the throughput figures of N replicas are measured with it off, so that every request reaches a replica);
`--print-config` prints the configuration. Used by tests/test_scale_out.py, scripts/benchmark.py and described in
docs/deployment.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from scripts.site import BUILD, ROOT

WORK = BUILD / "scale"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/tmp-body;
    proxy_temp_path {work}/tmp-proxy;
    fastcgi_temp_path {work}/tmp-fastcgi;
    uwsgi_temp_path {work}/tmp-uwsgi;
    scgi_temp_path {work}/tmp-scgi;
    # The cached path: what the replicas mark public (plugins/http_caching.py), kept for its max-age.
    proxy_cache_path {work}/cache levels=1:2 keys_zone=publication:10m max_size=1g inactive=1h use_temp_path=off;
    upstream datasette {{
        least_conn;
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            limit_except GET HEAD OPTIONS {{ deny all; }}
            proxy_pass http://datasette;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
{cache}
            add_header X-Replica $upstream_addr always;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
{extra}
    }}
}}
"""
# Inside `location /`. No proxy_cache_valid: nginx keeps only what the replica marked cacheable, for as long as it
# said; errors, no-store and private answers are never kept.
CACHE_DIRECTIVES = """\
            proxy_cache publication;
            proxy_cache_key $scheme$host$request_uri;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            proxy_cache_use_stale error timeout updating http_502 http_503 http_504;
            proxy_cache_background_update on;
            proxy_cache_bypass $http_cookie $http_authorization;
            proxy_no_cache $http_cookie $http_authorization;"""


def nginx_config(work: Path, upstreams: list[str], port: int, cache: bool = True, extra: str = "",
                 local: bool = True) -> str:
    """The nginx configuration for replicas at `upstreams` (host:port), listening on 127.0.0.1:port. `local`: run
    by this script, whose folders a root-started nginx's default worker user (nobody) may not be able to enter, so
    the workers keep the starting user (started by root on a development machine, loopback only)."""
    servers = "\n".join(f"        server {u} max_fails=0;" for u in upstreams)
    user = "user root;\n" if local and os.geteuid() == 0 else ""
    return NGINX_CONF.format(work=work, servers=servers, port=port, cache=CACHE_DIRECTIVES if cache else "",
                             extra=extra, user=user)


def start_nginx(work: Path, conf_text: str) -> subprocess.Popen:
    if not Path(NGINX).exists():
        raise RuntimeError("nginx not found: apt-get install nginx (make browser-deps installs it)")
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(conf_text)
    return subprocess.Popen([NGINX, "-p", str(work), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=(work / "nginx-stderr.log").open("w"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Cluster:
    """N Datasette replicas and nginx, all on 127.0.0.1. Use as a context manager."""

    def __init__(self, replicas: int, port: int | None = None, work: Path = WORK, cache: bool = True):
        self.replicas = replicas
        self.cache = cache
        self.port = port or free_port()
        self.work = work
        self.processes: list[subprocess.Popen] = []
        self.replica_urls: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Cluster:
        if not Path(NGINX).exists():
            raise RuntimeError("nginx not found: apt-get install nginx (make browser-deps installs it)")
        self.work.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.work / "cache", ignore_errors=True)  # a cache of an earlier build must not answer
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        try:
            for i in range(self.replicas):
                port = free_port()
                log = (self.work / f"replica-{i}.log").open("w")
                process = subprocess.Popen([sys.executable, "-m", "scripts.site", "-h", "127.0.0.1", "-p", str(port)],
                                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                self.processes.append(process)
                self.replica_urls.append(f"http://127.0.0.1:{port}")
            for url, process in zip(self.replica_urls, self.processes, strict=True):
                wait_for(url + "/-/versions.json", process)
            upstreams = [u.removeprefix("http://") for u in self.replica_urls]
            nginx = start_nginx(self.work, nginx_config(self.work, upstreams, self.port, cache=self.cache))
            self.processes.append(nginx)
            wait_for(self.url + "/-/versions.json", nginx)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def replica_pids(self) -> list[int]:
        return [p.pid for p in self.processes[: self.replicas]]

    def database_hashes(self) -> list[dict]:
        """{database name: inspect hash} as each replica reports it."""
        import httpx

        return [{d["name"]: d["hash"] for d in httpx.get(u + "/-/databases.json", timeout=30).json()}
                for u in self.replica_urls]


PATHS = [
    "/commissioning/boroughs.json?_shape=array",
    "/commissioning/funding_decisions.json",
    "/commissioning/boroughs",
    "/commissioning/crime_monthly.json?gss_code=E09000008",
    "/commissioning.json?sql=select+count(*)+from+crime_monthly",
]


def measure(replicas: int, seconds: float, clients: int) -> dict:
    from scripts.benchmark import load_run, process_cpu_seconds

    with Cluster(replicas, cache=False) as cluster:  # every request reaches a replica
        hashes = cluster.database_hashes()
        identical = all(h == hashes[0] for h in hashes)
        cpu_before = sum(process_cpu_seconds(pid) for pid in cluster.replica_pids())
        result = asyncio.run(load_run(cluster.url, PATHS, clients, seconds, cluster.processes[-1].pid))
        result["replica_cpu_s"] = round(sum(process_cpu_seconds(p) for p in cluster.replica_pids()) - cpu_before, 1)
        result["req_per_replica_cpu_s"] = result["requests"] / result["replica_cpu_s"] if result["replica_cpu_s"] else 0
        result.pop("req_per_cpu_s", None)
        result.pop("server_cpu_s", None)
        result.update(replicas=replicas, identical_hashes=identical, hashes=hashes[0])
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--serve", type=int, help="run this many replicas behind nginx until interrupted")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--no-cache", action="store_true", help="--serve without nginx's proxy_cache")
    parser.add_argument("--print-config", action="store_true", help="print the nginx configuration and exit")
    args = parser.parse_args(argv)
    if args.print_config:
        print(nginx_config(WORK, ["127.0.0.1:8001"], args.port, cache=not args.no_cache, local=False), end="")
        return 0
    if args.serve:
        with Cluster(args.serve, port=args.port, cache=not args.no_cache) as cluster:
            print(f"nginx on {cluster.url} -> {', '.join(cluster.replica_urls)}; Ctrl+C to stop", flush=True)
            try:
                while all(p.poll() is None for p in cluster.processes):
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return 0
    results = [measure(n, args.seconds, args.clients) for n in args.replicas]
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "results.json").write_text(json.dumps(results, indent=1))
    for r in results:
        print(f"N={r['replicas']}: {r['requests']} requests in {r['seconds']} s = {r['req_per_s']:.1f} req/s, "
              f"errors {r['errors']}, p95 {r['p95_ms']:.0f} ms, identical data: {r['identical_hashes']}")
    return 0 if all(r["errors"] == 0 and r["identical_hashes"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
