"""Benchmark the publication at synthetic scale; every figure is measured in one run and reported as ratios.

    python -m scripts.benchmark                      # 280,000 services (about 1,000,000 measure results)
    python -m scripts.benchmark --services 20000     # smaller, for a busy machine
    make benchmark                                   # the full size

What it measures (results in docs/benchmark.md and build/bench/results.json):
1. Build: time and peak memory (max RSS) of scripts.build_database (which validates every row) against
   csvs-to-sqlite 1.3.1 (in a throwaway venv, build/bench-venv; never a runtime dependency) and against the sqlite3
   shell's `.import` on the same CSV files.
2. Serving: p50/p95 latency and sequential requests/s of the main JSON and HTML pages, against the time SQLite
   itself takes for the SQL that Datasette ran for that page (read from the page's JSON), each page also through
   nginx's proxy_cache (the shipped cached path, scripts/scale_out.py's configuration).
   Peers in the same run (p95, sequential): bare Datasette (the same installed 0.65.5, no plugins, no metadata,
   default settings) serving the same database file, raw SQLite for the same SQL, nginx serving the same response
   bytes as a static file (the limit of any HTTP server), and this project uncached and cached through nginx.
3. Load: 20 concurrent clients on loopback for a bounded time; errors, requests/s, p50/p95/p99, and requests per
   CPU-second of the serving processes (the machine is shared, so wall-clock throughput understates a core);
   "(cached)" runs go through nginx's proxy_cache.
4. Attack: p99 of normal requests while pathological SQL (recursive explosion, huge cross join) runs
   continuously, against p99 of the same traffic just before; every attack must end at sql_time_limit_ms. Then the
   same for SQL that builds huge values (zeroblob, randomblob, printf, group_concat...; issue 15), with the server's
   resident memory before, during and after. `--attack-only` measures this section again against the previous
   run's build and keeps every other figure.
Nothing here is part of `make test`; the figures are relative to each other, measured on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from scripts.site import BUILD, DATABASES, ROOT, SETTINGS, cli_args

WORK = BUILD / "bench"
BENCH_VENV = BUILD / "bench-venv"
CSVS_TO_SQLITE_PIN = "csvs-to-sqlite==1.3.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- helpers ----------------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_with_rusage(command: list[str], stdin_path: Path | None = None, env: dict | None = None) -> dict:
    stdin = stdin_path.open("rb") if stdin_path else subprocess.DEVNULL
    stdout = open(WORK / "last_command.log", "wb")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdin=stdin, stdout=stdout, stderr=subprocess.STDOUT, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout.close()
    if stdin_path:
        stdin.close()
    return {
        "returncode": process.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "log_tail": (WORK / "last_command.log").read_text(errors="replace")[-8000:],
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def process_cpu_seconds(pid: int | list[int]) -> float:
    """utime + stime of the process (all threads), or of several processes and their children (nginx's workers)."""
    if isinstance(pid, list):
        total = 0.0
        for one in pid:
            children = Path(f"/proc/{one}/task/{one}/children")
            kids = [int(c) for c in children.read_text().split()] if children.exists() else []
            total += sum(process_cpu_seconds(k) for k in [one, *kids] if Path(f"/proc/{k}/stat").exists())
        return total
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- 1. data and builds -----------------------------------------------------------------------------------------


def generate(services: int) -> tuple[Path, dict]:
    data = WORK / "data"
    log(f"generating the synthetic package: {services:,} services")
    result = run_with_rusage([sys.executable, "-m", "scripts.generate_synthetic", "--size", str(services),
                              "--out", str(data)])
    if result["returncode"] != 0:
        raise SystemExit(f"generate_synthetic failed:\n{result['log_tail']}")
    from scripts.publication.package import load_package

    package = load_package(data)
    counts = {}
    for resource in package.csv_resources():
        with resource.path.open("rb") as handle:
            counts[resource.name] = max(sum(1 for _ in handle) - 1, 0)  # physical lines; synthetic text has no \n
    return data, {"generate": result, "csv_rows": counts}


def csv_files(data: Path) -> list[Path]:
    from scripts.publication.package import load_package

    return [r.path for r in load_package(data).csv_resources()]


def ensure_csvs_to_sqlite() -> Path | None:
    binary = BENCH_VENV / "bin" / "csvs-to-sqlite"
    if binary.exists():
        return binary
    log(f"installing {CSVS_TO_SQLITE_PIN} into {BENCH_VENV} (throwaway, benchmark only)")
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    result = subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "--quiet", CSVS_TO_SQLITE_PIN],
                            capture_output=True, text=True)
    if result.returncode != 0 or not binary.exists():
        log(f"csvs-to-sqlite could not be installed: {result.stderr[-500:]}")
        return None
    return binary


def build_phases(log_tail: str) -> dict[str, float]:
    """The seconds per phase that `scripts.build_database --timings` prints as `timings: {json}`."""
    for line in reversed(log_tail.splitlines()):
        if line.startswith("timings: "):
            return json.loads(line.removeprefix("timings: "))
    return {}


# Phases of our build that do what csvs-to-sqlite does (CSV into typed tables), plus the validation it does not do.
LIKE_FOR_LIKE_PHASES = ("read_validate", "cross_file_checks", "load")


def build_all(data: Path) -> dict:
    results = {}
    ours = WORK / "ours.db"
    log("building with scripts.build_database (validates every row)")
    results["ours"] = run_with_rusage([sys.executable, "-m", "scripts.build_database", "--data", str(data),
                                       "--out", str(ours), "--today", dt.date.today().isoformat(), "--timings"])
    if results["ours"]["returncode"] != 0:
        raise SystemExit(f"build failed:\n{results['ours']['log_tail']}")
    results["ours"]["phases_s"] = build_phases(results["ours"]["log_tail"])
    results["ours"]["db_mib"] = round(ours.stat().st_size / 2**20, 1)

    files = csv_files(data)
    binary = ensure_csvs_to_sqlite()
    if binary:
        target = WORK / "csvs_to_sqlite.db"
        target.unlink(missing_ok=True)
        log("building with csvs-to-sqlite")
        results["csvs_to_sqlite"] = run_with_rusage([str(binary), *map(str, files), str(target)])
        if target.exists():
            results["csvs_to_sqlite"]["db_mib"] = round(target.stat().st_size / 2**20, 1)
    sqlite3_cli = shutil.which("sqlite3")
    if sqlite3_cli:
        target = WORK / "sqlite3_import.db"
        target.unlink(missing_ok=True)
        script = WORK / "import.sql"
        script.write_text(".mode csv\n" + "".join(f".import '{f}' {f.stem}\n" for f in files))
        log("building with the sqlite3 shell's .import")
        results["sqlite3_import"] = run_with_rusage([sqlite3_cli, str(target)], stdin_path=script)
        results["sqlite3_import"]["db_mib"] = round(target.stat().st_size / 2**20, 1)
    return results


# --- 2-4. serving -----------------------------------------------------------------------------------------------


def start_server(serve_dir: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    args = cli_args()
    if "--inspect-file" in args:
        i = args.index("--inspect-file")
        del args[i:i + 2]
    for name in DATABASES:
        args[args.index(str(BUILD / name))] = str(serve_dir / name)
    # trace_debug only lets the benchmark read which queries a page ran (?_trace=1); it costs nothing otherwise.
    args += ["--inspect-file", str(serve_dir / "inspect-data.json"), "--setting", "trace_debug", "1"]
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    datasette = Path(sys.executable).parent / "datasette"
    log_file = (WORK / "server.log").open("w")
    process = subprocess.Popen([str(datasette), "serve", *args, "-h", "127.0.0.1", "-p", str(port)],
                               cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)))  # plugins import scripts.publication
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(url + "/-/versions.json", timeout=5).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("datasette did not start; see build/bench/server.log")


def endpoints(db_path: Path) -> list[tuple]:
    """(label, html path, json path[, query]) of the main pages, on the synthetic database. The query is given only
    where the JSON does not report the SQL it ran (row pages)."""
    db = sqlite3.connect(db_path)
    service_id = db.execute("select service_id from services order by service_id limit 1 offset 7").fetchone()[0]
    measure_id = db.execute("select measure_id from measure_results order by rowid limit 1 offset 99").fetchone()[0]
    db.close()
    base = "/synthetic_demo"
    group_sql = "select service_area, count(*) as n from services group by service_area order by n desc"
    from urllib.parse import quote

    return [
        ("services table (first page)", f"{base}/services", f"{base}/services.json"),
        ("measure_results table (first page)", f"{base}/measure_results", f"{base}/measure_results.json"),
        ("measure_results filtered by measure_id", f"{base}/measure_results?measure_id={quote(measure_id)}",
         f"{base}/measure_results.json?measure_id={quote(measure_id)}"),
        ("one service (row page)", f"{base}/services/{quote(service_id)}", f"{base}/services/{quote(service_id)}.json",
         {"sql": "select * from services where service_id = :p0", "params": {"p0": service_id}}),
        ("SQL: services by area", f"{base}?sql={quote(group_sql)}", f"{base}.json?sql={quote(group_sql)}"),
    ]


# Every figure is measured with `Accept-Encoding: identity`, so that each peer sends the same bytes (nginx serves the
# static copies unencoded). Requests straight to Datasette are answered afresh: there is no in-process cache (issue
# 16); caching is HTTP's, and the cached figures go through nginx's proxy_cache, warmed first, labelled as such.
IDENTITY = {"accept-encoding": "identity"}
# Sent by the attack run's clients; Datasette answers every request afresh anyway, so it changes nothing there.
UNCACHED = {"cache-control": "no-cache"}


def sequential_latency(url: str, path: str, n: int, pid: int | list[int] | None = None,
                       max_seconds: float | None = None) -> dict:
    """n sequential keep-alive requests (fewer when max_seconds runs out, at least 10) after 3 warm-up ones."""
    import httpx

    times = []
    errors = hits = 0
    with httpx.Client(base_url=url, timeout=120, headers=IDENTITY) as client:
        for _ in range(3 if max_seconds is None else 1):
            client.get(path)
        cpu_before = process_cpu_seconds(pid) if pid else 0.0
        started = time.perf_counter()
        for i in range(n):
            if max_seconds is not None and i >= 10 and time.perf_counter() - started > max_seconds:
                break
            t = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - t)
            errors += response.status_code != 200
            hits += response.headers.get("x-cache-status") == "HIT"
        total = time.perf_counter() - started
        cpu = process_cpu_seconds(pid) - cpu_before if pid else 0.0
    return {"p50_ms": percentile(times, 50) * 1000, "p95_ms": percentile(times, 95) * 1000,
            "req_per_s": len(times) / total, "errors": errors, "cache_hits": hits, "requests": len(times),
            "req_per_cpu_s": len(times) / cpu if cpu else float("nan")}


def raw_sqlite_latency(serve_dir: Path, queries: list[tuple[str, str, object]], n: int) -> dict:
    """Time the given (database, sql, params) queries back to back in Python's sqlite3, n times."""
    connections = {name: sqlite3.connect(f"file:{serve_dir / (name + '.db')}?immutable=1", uri=True)
                   for name in {q[0] for q in queries}}

    def run_all() -> None:
        for database, sql, params in queries:
            try:
                connections[database].execute(sql, params or {}).fetchall()
            except sqlite3.Error:
                pass  # e.g. a facet Datasette tried and gave up on: it cost Datasette the same attempt

    for _ in range(3):
        run_all()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        run_all()
        times.append(time.perf_counter() - t)
    for connection in connections.values():
        connection.close()
    return {"p50_ms": percentile(times, 50) * 1000, "p95_ms": percentile(times, 95) * 1000}


def traced_queries(url: str, path: str) -> list[tuple[str, str, object]]:
    """Every SQL query Datasette ran for a page, from its ?_trace=1 output (the bench server sets trace_debug).
    The slowest one (as Datasette timed it) is kept in SLOWEST[path] for the report."""
    import html

    import httpx

    traced = httpx.get(url + path + ("&" if "?" in path else "?") + "_trace=1", timeout=60)
    if "json" in traced.headers.get("content-type", ""):
        trace = traced.json()["_trace"]
    else:
        block = traced.text.rsplit("<pre>", 1)[1].split("</pre>", 1)[0]
        trace = json.loads(html.unescape(block))
    sql_traces = [t for t in trace["traces"] if t.get("sql")]
    if sql_traces:
        worst = max(sql_traces, key=lambda t: t.get("duration_ms") or 0)
        SLOWEST[path] = {"ms": worst.get("duration_ms"), "sql": " ".join(worst["sql"].split())[:160],
                         "error": worst.get("error")}
    return [(t["database"], t["sql"], t.get("params")) for t in sql_traces]


SLOWEST: dict[str, dict] = {}


def page_benchmarks(url: str, serve_dir: Path, n: int, pid: int | None = None, cache_url: str | None = None,
                    cache_pids: list[int] | None = None) -> list[dict]:
    import httpx

    rows = []
    for label, html_path, json_path, *given in endpoints(serve_dir / "synthetic_demo.db"):
        query = given[0] if given else httpx.get(url + json_path, timeout=60).json()["query"]
        main = raw_sqlite_latency(serve_dir, [("synthetic_demo", query["sql"], query.get("params"))], n)
        for kind, path in (("JSON", json_path), ("HTML", html_path)):
            log(f"latency: {label} {kind}")
            queries = traced_queries(url, path)
            every = raw_sqlite_latency(serve_dir, queries, n)
            measured = sequential_latency(url, path, n, pid=pid)
            cached = sequential_latency(cache_url or url, path, n, pid=cache_pids)
            rows.append({"page": label, "kind": kind, "path": path, **measured,
                         "cached": {k: cached[k] for k in ("p50_ms", "p95_ms", "req_per_s", "req_per_cpu_s",
                                                           "cache_hits", "requests", "errors")},
                         "raw_p50_ms": main["p50_ms"], "raw_p95_ms": main["p95_ms"],
                         "ratio_p50": measured["p50_ms"] / main["p50_ms"],
                         "ratio_p95": measured["p95_ms"] / main["p95_ms"], "sql": query["sql"],
                         "queries": len(queries), "all_raw_p50_ms": every["p50_ms"], "all_raw_p95_ms": every["p95_ms"],
                         "all_ratio_p95": measured["p95_ms"] / every["p95_ms"], "slowest": SLOWEST.get(path)})
    return rows


# --- peers (issue 16) --------------------------------------------------------------------------------------------

# Datasette's own switch (its test suite sets it) for loading none of the installed plugins: the bare peer runs the
# very Datasette 0.65.5 this project runs, with no plugins, no metadata and default settings.
BARE_LAUNCHER = "import sys; sys._called_from_test = True; from datasette.cli import cli; sys.exit(cli())"
PEER_MAX_SECONDS = 45  # per peer and page: bare Datasette's services table takes seconds a request at this size


def wait_until_up(url: str, process: subprocess.Popen, log_name: str) -> None:
    import httpx

    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(url + "/-/versions.json", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"server did not start; see build/bench/{log_name}")


def interleaved_latency(targets: dict[str, tuple[str, str]], n: int, max_seconds: float = PEER_MAX_SECONDS) -> dict:
    """Sequential requests to several servers taken in turns ({name: (base url, path)}): one request to each per
    round, so that a busy moment of a shared machine falls on every peer alike. A peer stops after n requests, or
    once its own requests have taken max_seconds (after at least 10)."""
    import httpx

    clients = {name: httpx.Client(base_url=url, timeout=120, headers=IDENTITY) for name, (url, _) in targets.items()}
    times: dict[str, list[float]] = {name: [] for name in targets}
    errors = dict.fromkeys(targets, 0)
    hits = dict.fromkeys(targets, 0)
    try:
        for name, (_, path) in targets.items():
            for _ in range(2):
                clients[name].get(path)  # warm-up (and fills nginx's cache)
        for _ in range(n):
            active = [name for name in targets if len(times[name]) < 10 or sum(times[name]) < max_seconds]
            if not active:
                break
            for name in active:
                t = time.perf_counter()
                response = clients[name].get(targets[name][1])
                times[name].append(time.perf_counter() - t)
                errors[name] += response.status_code != 200
                hits[name] += response.headers.get("x-cache-status") == "HIT"
    finally:
        for client in clients.values():
            client.close()
    return {name: {"p50_ms": percentile(t, 50) * 1000, "p95_ms": percentile(t, 95) * 1000, "requests": len(t),
                   "errors": errors[name], "cache_hits": hits[name]} for name, t in times.items()}


def start_bare_datasette(serve_dir: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    from scripts.scale_out import free_port

    port = free_port()
    log_file = (WORK / "bare-server.log").open("w")
    process = subprocess.Popen([sys.executable, "-c", BARE_LAUNCHER, "serve",
                                "-i", str(serve_dir / "synthetic_demo.db"),
                                "--inspect-file", str(serve_dir / "inspect-data.json"),
                                "-h", "127.0.0.1", "-p", str(port)],
                               cwd=WORK, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process, "bare-server.log")
    plugins = httpx.get(url + "/-/plugins.json", timeout=30).json()
    if plugins:
        process.kill()
        raise SystemExit(f"the bare Datasette peer loaded plugins: {plugins}")
    return process, url


def start_nginx_cache(upstream_url: str, static_root: Path) -> tuple[subprocess.Popen, str]:
    """nginx with scripts/scale_out.py's configuration (proxy_cache) in front of the server, and the same bytes as
    static files under /peer-static/."""
    from scripts.scale_out import free_port, nginx_config, start_nginx, wait_for

    work = WORK / "nginx"
    shutil.rmtree(work / "cache", ignore_errors=True)
    port = free_port()
    extra = (f"        location /peer-static/ {{ alias {static_root}/; default_type application/octet-stream; "
             f"add_header X-Cache-Status STATIC; }}")
    process = start_nginx(work, nginx_config(work, [upstream_url.removeprefix("http://")], port, extra=extra))
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/-/versions.json", process)
    return process, url


def peer_pages(db_path: Path) -> list[tuple[str, str, str, dict | None]]:
    """(page, format, path, main query where the JSON does not report it) of the four peer pages."""
    from urllib.parse import quote

    db = sqlite3.connect(db_path)
    service_id = db.execute("select service_id from services order by service_id limit 1 offset 7").fetchone()[0]
    db.close()
    row = f"/synthetic_demo/services/{quote(service_id)}"
    row_query = {"sql": "select * from services where service_id = :p0", "params": {"p0": service_id}}
    return [("services table", "JSON", "/synthetic_demo/services.json", None),
            ("services table", "HTML", "/synthetic_demo/services", None),
            ("one service (row page)", "JSON", row + ".json", row_query),
            ("one service (row page)", "HTML", row, row_query)]


def peer_benchmarks(serve_dir: Path, url: str, cache_url: str, static_root: Path, n: int) -> dict:
    import httpx

    bare, bare_url = start_bare_datasette(serve_dir)
    rows = []
    try:
        for i, (page, kind, path, given) in enumerate(peer_pages(serve_dir / "synthetic_demo.db")):
            log(f"peers: {page} {kind}")
            query = given or httpx.get(url + (path if kind == "JSON" else path + ".json"), timeout=60).json()["query"]
            raw_main = raw_sqlite_latency(serve_dir, [("synthetic_demo", query["sql"], query.get("params"))], n)
            raw_all = raw_sqlite_latency(serve_dir, traced_queries(url, path), n)
            body = httpx.get(url + path, headers=IDENTITY, timeout=60)
            static_root.mkdir(parents=True, exist_ok=True)
            (static_root / str(i)).write_bytes(body.content)
            results = interleaved_latency({"bare": (bare_url, path), "ours": (url, path),
                                           "static": (cache_url, f"/peer-static/{i}"), "cached": (cache_url, path)}, n)
            rows.append({"page": page, "kind": kind, "path": path, "bytes": len(body.content),
                         "raw_main_p95_ms": raw_main["p95_ms"], "raw_all_p95_ms": raw_all["p95_ms"],
                         **{f"{k}_p95_ms": v["p95_ms"] for k, v in results.items()},
                         **{f"{k}_requests": v["requests"] for k, v in results.items()},
                         "cache_hits": results["cached"]["cache_hits"],
                         "errors": sum(v["errors"] for v in results.values()),
                         "ours_vs_bare": results["ours"]["p95_ms"] / results["bare"]["p95_ms"],
                         "cached_vs_static": results["cached"]["p95_ms"] / results["static"]["p95_ms"]})
        versions = httpx.get(bare_url + "/-/versions.json", timeout=30).json()["datasette"]["version"]
    finally:
        bare.terminate()
        bare.wait(timeout=30)
    return {"pages": rows, "requests": n, "bare_datasette_version": versions, "max_seconds": PEER_MAX_SECONDS}


async def load_run(url: str, paths: list[str], clients: int, seconds: float, pid: int | list[int],
                   cached: bool = False) -> dict:
    """`cached`: url is nginx's proxy_cache in front of the server; pid then lists every serving process."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, headers=IDENTITY) as client:
        async def worker(i: int) -> None:
            k = i
            while time.perf_counter() < stop_at:
                path = paths[k % len(paths)]
                k += 1
                t = time.perf_counter()
                try:
                    response = await client.get(path)
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {path}")
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__} {path}")
                latencies.append(time.perf_counter() - t)

        cpu_before = process_cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(*[worker(i) for i in range(clients)])
        wall = time.perf_counter() - started
        cpu = process_cpu_seconds(pid) - cpu_before
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(latencies), "errors": len(errors),
        "error_samples": errors[:5], "req_per_s": len(latencies) / wall,
        "req_per_cpu_s": len(latencies) / cpu if cpu else float("nan"), "server_cpu_s": round(cpu, 1),
        "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


ATTACKS = [
    "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r",
    "select count(*) from measure_results a, measure_results b, services c",
    "with recursive r(n) as (select 1 union all select n + 1 from r) select max(n) from r, services",
]
# SQL that builds huge values or results (issue 15), answered by plugins/sql_limits.py and response_limit.py. Each
# attacker cycles through all of them.
HUGE_VALUE_ATTACKS = [
    "select zeroblob(200000000)",
    "select replace(hex(zeroblob(100000000)), '0', 'ab')",
    "select randomblob(999999999)",
    "select printf('%.*c', 1000000000, 'x')",
    "with recursive r(n) as (select 1 union all select n + 1 from r limit 10000000) "
    "select group_concat('xxxxxxxxxxxxxxxxxxxx') from r",
    "with recursive r(n) as (select 1 union all select n + 1 from r limit 10000000) "
    "select json_group_array('xxxxxxxxxxxxxxxxxxxx') from r",
    "with recursive r(n) as (select 1 union all select n + 1 from r limit 5000) "
    "select zeroblob(1500000) a, zeroblob(1500000) b, zeroblob(1500000) c, zeroblob(1500000) d from r",
    "select trim(hex(zeroblob(1000000)), replace(hex(zeroblob(500000)), '0', '1') || '0')",
]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def outcome_kind(status: int, text: str) -> str:
    text = text.lower()
    if status == 400 and "too long" in text:
        return "time limit"
    if status == 400 and ("too big" in text or "too large" in text or "larger than" in text):
        return "size limit"
    return "429" if status == 429 else f"other {status}"


async def attack_run(url: str, paths: list[str], clients: int, seconds: float, pid: int, adhoc: str,
                     attacks: list[str] | None = None, attackers: int | None = None) -> dict:
    """Normal traffic without, then with, attackers sending `attacks` non-stop; the server's memory throughout."""
    import httpx

    attacks = attacks or ATTACKS
    attackers = attackers or len(attacks)
    solo = []  # each attack once, alone: how long it takes when it does not wait for the ad-hoc SQL slot
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=UNCACHED) as client:
        for sql in attacks:
            t = time.perf_counter()
            response = await client.get("/synthetic_demo.json", params={"sql": sql})
            solo.append((sql, response.status_code, time.perf_counter() - t,
                         outcome_kind(response.status_code, response.text)))
    baseline = await load_run(url, paths, clients, seconds, pid)  # the same traffic, just before, for the ratio
    outcomes: list[tuple] = []
    adhoc_outcomes: list[tuple[int, float]] = []
    memory = {"before": rss_mib(pid), "max": rss_mib(pid)}
    stop_at = time.perf_counter() + seconds

    async def honest_sql_user() -> None:
        # One client running a quick ad-hoc aggregate in a loop: it shares the ad-hoc SQL slot with the attack.
        async with httpx.AsyncClient(base_url=url, timeout=120, headers=UNCACHED) as client:
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                response = await client.get(adhoc)
                adhoc_outcomes.append((response.status_code, time.perf_counter() - t))

    async def attacker(i: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120, headers=UNCACHED) as client:
            k = i
            while time.perf_counter() < stop_at:
                sql = attacks[k % len(attacks)]
                k += 1
                t = time.perf_counter()
                response = await client.get("/synthetic_demo.json", params={"sql": sql})
                kind = outcome_kind(response.status_code, response.text)
                outcomes.append((response.status_code, time.perf_counter() - t, kind == "time limit", sql[:40], kind,
                                 len(response.content)))

    async def watch_memory() -> None:
        while time.perf_counter() < stop_at + 1:
            memory["max"] = max(memory["max"], rss_mib(pid))
            await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(attacker(i)) for i in range(attackers)] + [asyncio.create_task(watch_memory())]
    await asyncio.sleep(0.5)
    tasks.append(asyncio.create_task(honest_sql_user()))
    normal = await load_run(url, paths, clients, seconds, pid)
    await asyncio.gather(*tasks)
    kinds: dict[str, int] = {}
    for o in outcomes:
        kinds[o[4]] = kinds.get(o[4], 0) + 1
    return {
        "normal": normal,
        "baseline_run": baseline,
        "solo": solo,
        "attackers": attackers,
        "attack_sql": attacks,
        "attack_requests": len(outcomes),
        "attacks_cut_off_at_time_limit": sum(1 for o in outcomes if o[2]),
        "attack_kinds": kinds,
        "attack_max_s": max((o[1] for o in outcomes), default=float("nan")),
        "attack_max_body_bytes": max((o[5] for o in outcomes), default=0),
        "attack_outcomes": [o[:4] for o in outcomes],
        "server_rss_mib_before": memory["before"],
        "server_rss_mib_max": memory["max"],
        "server_rss_mib_after": rss_mib(pid),
        "adhoc_requests": len(adhoc_outcomes),
        "adhoc_ok": sum(1 for o in adhoc_outcomes if o[0] == 200),
        "adhoc_p50_ms": percentile([o[1] for o in adhoc_outcomes], 50) * 1000,
        "adhoc_max_ms": max((o[1] for o in adhoc_outcomes), default=float("nan")) * 1000,
    }


def attack_lines(attack: dict, baseline: dict) -> list[str]:
    kinds = attack.get("attack_kinds") or {}
    lines = []
    if attack.get("solo"):
        slowest = max(attack["solo"], key=lambda o: o[2])
        lines.append(f"- Each query once, alone: {', '.join(f'{o[3]} in {o[2]:.2f} s' for o in attack['solo'])}; "
                     f"the slowest, `{slowest[0][:60]}`, took {slowest[2]:.2f} s (sql_time_limit_ms + 1 s = "
                     f"{SETTINGS['sql_time_limit_ms'] / 1000 + 1:.0f} s).")
    lines += [
        f"- Attack queries: {attack['attack_requests']}: stopped at the time limit {kinds.get('time limit', 0)}, "
        f"refused at a size limit (plugins/sql_limits.py, response_limit.py) {kinds.get('size limit', 0)}, turned "
        f"away with 429 while waiting for the ad-hoc SQL slot (plugins/sql_guard.py) {kinds.get('429', 0)}, other "
        f"{sum(v for k, v in kinds.items() if k.startswith('other'))}; the longest took "
        f"{fmt(attack['attack_max_s'], 2)} s, waiting for the single ad-hoc SQL slot included"
        + (f", the largest answer was {attack['attack_max_body_bytes']:,} bytes." if "attack_max_body_bytes" in attack
           else "."),
        f"- Normal requests during the attack: {attack['normal']['requests']:,}, errors "
        f"{attack['normal']['errors']}, p50 {fmt(attack['normal']['p50_ms'])} ms, p95 "
        f"{fmt(attack['normal']['p95_ms'])} ms, **p99 {fmt(attack['normal']['p99_ms'])} ms** "
        f"(the same traffic without the attack, same run: p99 {fmt(baseline['p99_ms'])} ms, "
        f"**{attack['normal']['p99_ms'] / baseline['p99_ms']:.1f}×**).",
    ]
    if "server_rss_mib_max" in attack:
        lines.append(f"- Server memory (resident): {fmt(attack['server_rss_mib_before'])} MiB before the attack, at "
                     f"most {fmt(attack['server_rss_mib_max'])} MiB during it, {fmt(attack['server_rss_mib_after'])} "
                     f"MiB after.")
    lines.append(
        f"- One honest client running a quick ad-hoc aggregate in a loop at the same time (it shares the ad-hoc SQL "
        f"slot with the attack, so it waits): {attack.get('adhoc_requests', 0)} requests, "
        f"{attack.get('adhoc_ok', 0)} answered 200, p50 {fmt(attack.get('adhoc_p50_ms', float('nan')))} ms, "
        f"slowest {fmt(attack.get('adhoc_max_ms', float('nan')))} ms.")
    return lines


def run_attacks(url: str, light: list[str], clients: int, seconds: float, pid: int, adhoc: str) -> dict:
    log("attack: pathological SQL with concurrent indexed lookups")
    results = {"attack": asyncio.run(attack_run(url, light, clients, seconds, pid, adhoc))}
    results["attack"]["baseline"] = "indexed lookups (row and filtered pages)"
    log("attack: SQL that builds huge values, with concurrent indexed lookups")
    results["attack_huge_values"] = asyncio.run(attack_run(url, light, clients, seconds, pid, adhoc,
                                                           HUGE_VALUE_ATTACKS, attackers=3))
    return results


# --- report -----------------------------------------------------------------------------------------------------


def fmt(value, digits=1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_report(results: dict, out: Path) -> None:
    b = results["build"]
    ours = b["ours"]
    lines = [
        "# Benchmark",
        "",
        f"Measured by `python -m scripts.benchmark --services {results['services']}` on {results['date']} "
        f"({results['machine']}). Every figure below comes from this one run on the same machine, so compare them "
        "as ratios; the machine is shared, so absolute times are pessimistic. `make benchmark` runs the full size "
        "(280,000 services, about 1,000,000 measure results). Raw figures: `build/bench/results.json`.",
        "",
        f"Synthetic package: {results['csv_rows'].get('services', 0):,} services, "
        f"{results['csv_rows'].get('measure_results', 0):,} measure results, "
        f"{sum(results['csv_rows'].values()):,} CSV rows in {len(results['csv_rows'])} files.",
        "",
        "## Build (same CSV files)",
        "",
        "| Tool | Wall s | CPU s | Peak memory MiB | DB MiB | Time vs ours | Memory vs ours |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"ours": "scripts.build_database (validates every row, indexes, FTS, derived tables)",
             "csvs_to_sqlite": "csvs-to-sqlite 1.3.1 (no validation)",
             "sqlite3_import": "sqlite3 shell `.import` (no validation, all text)"}
    for key, label in names.items():
        if key not in b:
            lines.append(f"| {label} | not available | | | | | |")
            continue
        r = b[key]
        status = "" if r["returncode"] == 0 else f" (exit {r['returncode']})"
        lines.append(
            f"| {label}{status} | {fmt(r['wall_s'])} | {fmt(r['cpu_s'])} | {fmt(r['peak_rss_mib'])} | "
            f"{fmt(r.get('db_mib', float('nan')))} | {r['cpu_s'] / ours['cpu_s']:.2f}× CPU | "
            f"{r['peak_rss_mib'] / ours['peak_rss_mib']:.2f}× |"
        )
    phases = ours.get("phases_s") or {}
    if phases:
        like_for_like = sum(phases.get(k, 0.0) for k in LIKE_FOR_LIKE_PHASES)
        lines += [
            "",
            "Our build phase by phase (wall seconds inside the same run, from `--timings`):",
            "",
            "| Phase | Seconds | Share |",
            "|---|---:|---:|",
        ]
        for phase, seconds in phases.items():
            if phase != "total":
                lines.append(f"| {phase} | {fmt(seconds)} | {seconds / phases.get('total', 1) * 100:.0f}% |")
        lines.append(f"| total | {fmt(phases.get('total', float('nan')))} | |")
        if "csvs_to_sqlite" in b and b["csvs_to_sqlite"]["returncode"] == 0:
            lines += [
                "",
                f"Reading, validating every row (types, patterns, enums, ranges, keys, foreign keys, London "
                f"boundary, cross-file rules) and loading the typed rows — the part that does what csvs-to-sqlite "
                f"does — took {fmt(like_for_like)} s, {like_for_like / b['csvs_to_sqlite']['wall_s']:.2f}× "
                f"csvs-to-sqlite's wall time. The rest is work csvs-to-sqlite does not do: indexes and full-text "
                f"search, the derived tables, and the checks of the finished database (integrity, foreign keys).",
            ]
    lines += [
        "",
        "CPU seconds are the fairer time on a shared machine (wall time includes waiting for the other users' "
        "processes); the ratio columns are the other tool's figure divided by ours.",
        "",
        *peers_report(results),
        "## Pages: Datasette against raw SQLite",
        "",
        f"Sequential requests ({results['requests_per_page']} per page, keep-alive, loopback, "
        "`Accept-Encoding: identity`), each answered afresh by Datasette (there is no in-process cache), so every "
        "ratio is uncached. The two \"cached\" columns repeat the same page through nginx's proxy_cache, warm "
        "(the shipped deployment's cached path). \"Main query\" is "
        "the SQL Datasette reports for the page (its JSON `query`), \"all queries\" every query the page ran "
        "(read with `?_trace=1`: counts, facets, foreign-key labels, plugin queries), each run back to back in "
        "Python's sqlite3 on the same file opened immutable.",
        "",
        "| Page | Format | p50 ms | p95 ms | req/s (1 client) | req per server CPU-s | main query p50 ms | "
        "p95 vs main query | queries run | all queries p95 ms | p95 vs all queries | cached p50 ms | cached p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["pages"]:
        cached = row.get("cached") or {}
        hit_note = "" if cached.get("cache_hits", 0) == cached.get("requests", 0) else " (not all HIT)"
        lines.append(
            f"| {row['page']} | {row['kind']} | {fmt(row['p50_ms'])} | {fmt(row['p95_ms'])} | "
            f"{fmt(row['req_per_s'])} | {fmt(row.get('req_per_cpu_s', float('nan')))} | "
            f"{fmt(row['raw_p50_ms'], 2)} | {fmt(row['ratio_p95'])}× | "
            f"{row['queries']} | {fmt(row['all_raw_p95_ms'], 2)} | {fmt(row['all_ratio_p95'])}× | "
            f"{fmt(cached.get('p50_ms', float('nan')))}{hit_note} | {fmt(cached.get('p95_ms', float('nan')))} |"
        )
    lines += [
        "",
        "Work a plugin does through `execute_fn` (the services page's coverage summary, the precounted services "
        "facets' borough counts) is not in Datasette's trace, so \"all queries\" leaves it out. Requests per server "
        "CPU-second: sequential requests divided by the CPU the Datasette process used meanwhile. Cached throughput "
        "is in the load table below.",
        "",
        "Datasette's time includes HTTP, routing, JSON or template rendering and plugin hooks, a fixed cost of "
        "a few milliseconds per request; where SQLite needs microseconds (row pages, indexed filters) that fixed "
        "cost is the whole ratio, so no web front end could meet a 3× target there.",
        "",
        "Slowest query of each page, as Datasette timed it inside the traced request:",
        "",
    ]
    for row in results["pages"]:
        slow = row.get("slowest") or {}
        if slow:
            error = f" (**{slow['error']}**)" if slow.get("error") else ""
            lines.append(f"- {row['page']} {row['kind']}: {fmt(float(slow['ms'] or 0))} ms{error}: "
                         f"`{slow['sql'][:120]}`")
    per_service = results["csv_rows"].get("measure_results", 0) / max(results["csv_rows"].get("services", 1), 1)
    lines += [
        "",
        f"Rows per service in this package: {per_service:.1f} measure results (the generator's performance "
        f"domain), so 1,000,000 measure results need about {1_000_000 / max(per_service, 0.1):,.0f} services.",
        "",
        "## Load",
        "",
        "Runs without \"(cached)\" go straight to Datasette (every request is answered afresh); \"(cached)\" runs "
        "repeat the same traffic through nginx's proxy_cache, and their CPU-seconds count nginx's and Datasette's.",
        "",
        "| Run | Clients | Seconds | Requests | Errors | req/s (wall) | req per server CPU-second | p50 ms | p95 ms | "
        "p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, run in results["load"].items():
        lines.append(
            f"| {label} | {run['clients']} | {fmt(run['seconds'])} | {run['requests']:,} | {run['errors']} | "
            f"{fmt(run['req_per_s'])} | {fmt(run['req_per_cpu_s'])} | {fmt(run['p50_ms'])} | {fmt(run['p95_ms'])} | "
            f"{fmt(run['p99_ms'])} |"
        )
    attack = results["attack"]
    baseline = results["load"][attack["baseline"]]
    lines += [
        "",
        "Requests per server CPU-second is the throughput one fully available core would give the single "
        "Datasette process (it also counts the CPU the process spent waiting on SQLite threads).",
        "",
        "## Under attack: pathological SQL",
        "",
        f"{len(ATTACKS)} clients sent pathological SQL non-stop (recursive CTE with no end, a cross join of "
        f"measure_results with itself and services, a recursive CTE joined to services) "
        f"while {attack['normal']['clients']} clients made indexed lookups (row pages and a filtered table, response "
        f"cache bypassed) for "
        f"{fmt(attack['normal']['seconds'])} s. sql_time_limit_ms is "
        f"{SETTINGS['sql_time_limit_ms']} and num_sql_threads is {SETTINGS['num_sql_threads']}."
        + (f" Measured {attack['measured']} with `--attack-only` against the build above; the ratio is to the same "
           f"traffic just before the attack." if attack.get("measured") else ""),
        "",
        *attack_lines(attack, attack.get("baseline_run") or baseline),
        "",
    ]
    huge = results.get("attack_huge_values")
    if huge:
        lines += [
            "### SQL that builds huge values (issue 15)",
            "",
            f"{huge['attackers']} clients cycled non-stop through {len(huge['attack_sql'])} queries that build "
            "values or results of hundreds of megabytes to gigabytes (`zeroblob(200000000)`, "
            "`replace(hex(zeroblob(1e8)), ...)`, `randomblob(999999999)`, `printf('%.*c', 1e9, 'x')`, "
            "`group_concat` and `json_group_array` over a 10-million-row recursive CTE, 5,000 rows of four 1.5 MB "
            "blobs, `trim` with a 1-million-character list) while the same indexed lookups ran for "
            f"{fmt(huge['normal']['seconds'])} s" + (f" (measured {huge['measured']} with `--attack-only` against "
                                                     f"the build above)" if huge.get("measured") else "") + ".",
            "",
            *attack_lines(huge, huge["baseline_run"]),
            "",
        ]
    lines += [
        "## Targets (issue 9)",
        "",
    ]
    json_rows = [r for r in results["pages"] if r["kind"] == "JSON"]
    worst_p95 = max(r["all_ratio_p95"] for r in results["pages"])
    table_json = results["load"].get("services table JSON without facets (_nofacet=1)")
    table_json_facets = results["load"].get("services table JSON as configured (facets)")
    table_json_cached = results["load"].get("services table JSON as configured (facets) (cached)") or {}
    lines += [
        f"- Pages and JSON p95 ≤ 3× raw SQLite (all queries of the page): worst ratio {worst_p95:.1f}×, "
        f"{'met' if worst_p95 <= 3 else 'not met'} "
        "(JSON pages: " + ", ".join(f"{r['all_ratio_p95']:.1f}×" for r in json_rows) + ").",
    ]
    if table_json:
        lines.append(
            f"- ≥ 100 req/s per core on table JSON: {fmt(table_json['req_per_cpu_s'])} requests per server "
            f"CPU-second for the services table JSON without facets "
            f"({'met' if table_json['req_per_cpu_s'] >= 100 else 'not met'}); "
            f"{fmt(table_json_facets['req_per_cpu_s'])} with the facets configured in metadata.yml (both uncached; "
            f"through nginx's proxy_cache: {fmt(table_json_cached.get('req_per_cpu_s', float('nan')))})."
        )
    if "csvs_to_sqlite" in b and b["csvs_to_sqlite"]["returncode"] == 0:
        ratio = ours["cpu_s"] / b["csvs_to_sqlite"]["cpu_s"]
        phases = ours.get("phases_s") or {}
        like_for_like = sum(phases.get(k, 0.0) for k in LIKE_FOR_LIKE_PHASES)
        lines.append(
            f"- Build ≤ csvs-to-sqlite's time while validating every row: the whole build takes {ratio:.2f}× its "
            f"CPU time ({'met' if ratio <= 1 else 'not met'}); reading, validating and loading alone take "
            f"{like_for_like / b['csvs_to_sqlite']['wall_s']:.2f}× its wall time "
            f"({'met' if like_for_like <= b['csvs_to_sqlite']['wall_s'] else 'not met'})."
        )
    # Hand-written notes after the marker survive a re-run (they interpret one run's figures; date them).
    notes = ""
    if out.exists() and NOTES_MARKER in out.read_text(encoding="utf-8"):
        notes = out.read_text(encoding="utf-8").split(NOTES_MARKER, 1)[1]
    out.write_text("\n".join(lines) + "\n\n" + NOTES_MARKER + notes.rstrip("\n") + "\n", encoding="utf-8")


def peers_report(results: dict) -> list[str]:
    peers = results.get("peers")
    if not peers:
        return []
    lines = [
        "## Peers: bare Datasette, raw SQLite, nginx static (issue 16)",
        "",
        f"p95 ms of sequential requests (up to {peers['requests']} per peer and page, keep-alive, loopback, "
        "`Accept-Encoding: identity`), all in this run on the same file, taken in turns (one request to each peer, "
        "then the next round), so that the shared machine's busy moments fall on every peer alike. "
        "**Bare Datasette**: the same installed "
        f"Datasette {peers['bare_datasette_version']} serving only `synthetic_demo.db` (immutable, same inspect "
        "file) with no plugins, no metadata and default settings (so its table pages suggest facets and sort by "
        f"rowid; it got {peers['max_seconds']} s per page, at least 10 requests). **Raw SQLite**: the page's main "
        "query, and every query this project's page ran, back to back in Python's sqlite3 on the same file. "
        "**nginx static**: nginx serving this project's response bytes for the page as a file, the limit of any "
        "HTTP server. **Cached**: this project through nginx's proxy_cache (scripts/scale_out.py's configuration), "
        "warm.",
        "",
        "| Page | Format | bytes | raw SQLite, main query | raw SQLite, all queries | bare Datasette | "
        "this project, uncached | uncached ÷ bare | nginx static | this project, cached | cached ÷ static |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in peers["pages"]:
        bare_note = "" if row["bare_requests"] >= peers["requests"] else f" ({row['bare_requests']} req.)"
        hit_note = "" if row["cache_hits"] == row["cached_requests"] else " (not all HIT)"
        lines.append(
            f"| {row['page']} | {row['kind']} | {row['bytes']:,} | {fmt(row['raw_main_p95_ms'], 2)} | "
            f"{fmt(row['raw_all_p95_ms'], 2)} | {fmt(row['bare_p95_ms'])}{bare_note} | {fmt(row['ours_p95_ms'])} | "
            f"{row['ours_vs_bare']:.2f}× | {fmt(row['static_p95_ms'], 2)} | {fmt(row['cached_p95_ms'], 2)}{hit_note} | "
            f"{row['cached_vs_static']:.2f}× |")
    slower = max(r["ours_vs_bare"] for r in peers["pages"])
    cached = max(r["cached_vs_static"] for r in peers["pages"])
    lines += [
        "",
        f"- Never slower than bare Datasette on any page, uncached: worst {slower:.2f}× "
        f"({'met' if slower <= 1 else 'not met'}).",
        f"- The cached path within 1.5× of nginx static: worst {cached:.2f}× "
        f"({'met' if cached <= 1.5 else 'not met'}).",
        "",
    ]
    return lines


NOTES_MARKER = "<!-- notes: kept by scripts/benchmark.py when it rewrites this file -->"


def attack_only(args) -> int:
    """The attack section again, against the previous run's build, its other figures unchanged."""
    serve_dir = WORK / "serve"
    if not (WORK / "results.json").exists() or not (serve_dir / "synthetic_demo.db").exists():
        raise SystemExit("--attack-only needs a previous run: build/bench/results.json and build/bench/serve")
    results = json.loads((WORK / "results.json").read_text())
    process, url = start_server(serve_dir)
    try:
        pages = endpoints(serve_dir / "synthetic_demo.db")
        light = [p for label, h, j, *_ in pages if "first page" not in label and "SQL" not in label for p in (h, j)]
        adhoc = next(j for label, h, j, *_ in pages if "SQL" in label)
        results.update(run_attacks(url, light, args.clients, args.load_seconds, process.pid, adhoc))
        for key in ("attack", "attack_huge_values"):
            results[key]["measured"] = dt.date.today().isoformat()
    finally:
        process.terminate()
        process.wait(timeout=30)
    (WORK / "results.json").write_text(json.dumps(results, indent=1, default=str))
    write_report(results, args.out)
    log(f"wrote {args.out} (attack section measured again)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=280_000)
    parser.add_argument("--requests", type=int, default=100, help="sequential requests per page")
    parser.add_argument("--load-seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmark.md")
    parser.add_argument("--reuse-data", action="store_true", help="keep build/bench/data if it exists")
    parser.add_argument("--reuse-build", action="store_true",
                        help="keep build/bench/serve and the build figures of the previous run (serving only)")
    parser.add_argument("--attack-only", action="store_true",
                        help="re-run only the attack section against build/bench/serve; every other figure is kept "
                             "from the previous run (build/bench/results.json)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    if args.attack_only:
        return attack_only(args)

    results: dict = {
        "services": args.services, "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                   f"SQLite {sqlite3.sqlite_version}",
        "requests_per_page": args.requests,
    }
    serve_dir = WORK / "serve"
    previous = json.loads((WORK / "results.json").read_text()) if (WORK / "results.json").exists() else {}
    if args.reuse_build and previous.get("build") and (serve_dir / "synthetic_demo.db").exists():
        for key in ("services", "csv_rows", "generate", "build", "date"):
            results[key] = previous[key]
        log(f"reusing the build of {previous['services']:,} services from {previous['date']}")
    else:
        if args.reuse_data and (WORK / "data" / "datapackage.json").exists():
            data = WORK / "data"
            from scripts.publication.package import load_package

            results["csv_rows"] = {r.name: max(sum(1 for _ in r.path.open("rb")) - 1, 0)
                                   for r in load_package(data).csv_resources()}
        else:
            data, generated = generate(args.services)
            results.update(generated)
        results["build"] = build_all(data)
        serve_dir.mkdir(exist_ok=True)
        shutil.copyfile(BUILD / "commissioning.db", serve_dir / "commissioning.db")
        os.replace(WORK / "ours.db", serve_dir / "synthetic_demo.db")
        subprocess.run([str(Path(sys.executable).parent / "datasette"), "inspect",
                        str(serve_dir / "commissioning.db"), str(serve_dir / "synthetic_demo.db"),
                        "--inspect-file", str(serve_dir / "inspect-data.json")], check=True, cwd=ROOT)
    process, url = start_server(serve_dir)
    cache, cache_url = start_nginx_cache(url, WORK / "static-peer")
    cache_pids = [cache.pid, process.pid]  # nginx (master and workers) and Datasette behind it
    try:
        results["pages"] = page_benchmarks(url, serve_dir, args.requests, process.pid, cache_url, cache_pids)
        results["peers"] = peer_benchmarks(serve_dir, url, cache_url, WORK / "static-peer", args.requests)
        pages = endpoints(serve_dir / "synthetic_demo.db")
        mixed = [p for _, h, j, *_ in pages for p in (h, j)]
        # Indexed lookups: row pages and a filtered table (no full-table first page, no ad-hoc SQL).
        light = [p for label, h, j, *_ in pages if "first page" not in label and "SQL" not in label for p in (h, j)]
        adhoc = next(j for label, h, j, *_ in pages if "SQL" in label)
        runs = {
            "services table JSON as configured (facets)": ["/synthetic_demo/services.json"],
            "services table JSON without facets (_nofacet=1)": ["/synthetic_demo/services.json?_nofacet=1"],
            "all pages above, mixed": mixed,
            "indexed lookups (row and filtered pages)": light,
        }
        # Every run above goes straight to Datasette (answered afresh); the same traffic is then repeated through
        # nginx's proxy_cache, warm, labelled "(cached)", so no ratio or target is flattered by the cache.
        runs.update({f"{label} (cached)": paths for label, paths in list(runs.items())})
        results["load"] = {}
        for label, paths in runs.items():
            cached = label.endswith("(cached)")
            log(f"load: {args.clients} clients, {label}, {args.load_seconds} s")
            results["load"][label] = asyncio.run(load_run(cache_url if cached else url, paths, args.clients,
                                                          args.load_seconds, cache_pids if cached else process.pid,
                                                          cached=cached))
            results["load"][label]["cached"] = cached
        results.update(run_attacks(url, light, args.clients, args.load_seconds, process.pid, adhoc))
    finally:
        for server in (cache, process):
            server.terminate()
            server.wait(timeout=30)
    (WORK / "results.json").write_text(json.dumps(results, indent=1, default=str))
    write_report(results, args.out)
    log(f"wrote {args.out}")
    ok = all(run["errors"] == 0 for run in results["load"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
