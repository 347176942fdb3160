"""plugins/datasette_shims.py, the one module allowed to patch Datasette's private internals (issue 16): it refuses
to start on any Datasette version but the pinned one, its patch is in effect once the site has started, and no other
module in plugins/ or plugins/view_models/ touches a private Datasette name, patches a Datasette object or imports a
Datasette name the shims module does not list as public."""

from __future__ import annotations

import ast
import gc
import sqlite3
from concurrent import futures
from pathlib import Path

import datasette as datasette_package
import pytest
from datasette.app import Datasette
from datasette.database import Database

from plugins import datasette_shims
from scripts.site import ROOT, make_datasette

SHIMS = ROOT / "plugins" / "datasette_shims.py"
ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}
DATASETTE_OBJECTS = {"datasette", "ds"}  # names (and attributes, as self.ds) by which plugins hold the Datasette


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def root_name(node) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute) and node.attr in DATASETTE_OBJECTS:
            return node.attr
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def problems(path: Path) -> list[str]:
    """Private Datasette names, patches of Datasette objects and unlisted Datasette imports in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = []
    from_datasette = set()  # local names bound to something imported from datasette
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "datasette":
            allowed = datasette_shims.PUBLIC_API.get(node.module, set())
            for alias in node.names:
                from_datasette.add(alias.asname or alias.name)
                if alias.name not in allowed:
                    found.append(f"{where}:{node.lineno}: imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "datasette":
                    found.append(f"{where}:{node.lineno}: imports {alias.name} (import names from PUBLIC_API)")
    own_classes = {}  # class name -> names the class defines itself
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            own = {n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            own |= {a.attr for a in ast.walk(node) if isinstance(a, ast.Attribute) and isinstance(a.ctx, ast.Store)
                    and isinstance(a.value, ast.Name) and a.value.id == "self"}
            subclasses_datasette = any(isinstance(b, ast.Name) and b.id in from_datasette for b in node.bases)
            for a in ast.walk(node):
                if (isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "self"
                        and private(a.attr) and subclasses_datasette and a.attr not in own):
                    found.append(f"{where}:{a.lineno}: self.{a.attr} is inherited from Datasette")
            own_classes[node.name] = own
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ACCESSORS:
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str) \
                    and private(node.args[1].value):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Delete) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute | ast.Subscript):
                name = root_name(target)
                if name in from_datasette or name in DATASETTE_OBJECTS:
                    found.append(f"{where}:{target.lineno}: assigns to {ast.unparse(target)}")
    return found


def serving_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "plugins").rglob("*.py") if p != SHIMS and "__pycache__" not in p.parts)


def test_no_other_module_touches_datasette_internals():
    modules = serving_modules()
    assert len(modules) > 10 and any("view_models" in p.parts for p in modules)
    found = [problem for path in modules for problem in problems(path)]
    assert not found, "only plugins/datasette_shims.py may do this:\n" + "\n".join(found)


@pytest.mark.parametrize("source, expected", [
    ("from datasette.app import Datasette\n", "imports datasette.app.Datasette"),
    ("from datasette.database import Database\nDatabase.execute = None\n", "assigns to Database.execute"),
    ("def f(datasette):\n    datasette.renderers['atom'] = None\n", "assigns to datasette.renderers['atom']"),
    ("def f(datasette):\n    return datasette._metadata_local\n", "datasette._metadata_local"),
    ("class F:\n    def f(self):\n        return self.ds._settings\n", "self.ds._settings"),
    ("def f(x):\n    return getattr(x, '_internal')\n", "getattr(x, '_internal')"),
    ("from datasette.facets import ArrayFacet\nclass F(ArrayFacet):\n    def f(self):\n"
     "        return self._is_json_array_of_strings('[]')\n", "self._is_json_array_of_strings is inherited"),
])
def test_the_scan_finds_each_kind_of_patch(tmp_path, source, expected):
    module = tmp_path / "probe.py"
    module.write_text(source, encoding="utf-8")
    found = problems(module)
    assert any(expected in problem for problem in found), found


def test_refuses_another_datasette_version(monkeypatch):
    monkeypatch.setattr(datasette_package, "__version__", "0.66.0")
    with pytest.raises(datasette_shims.DatasetteVersionError, match=r"Datasette 0\.66\.0 is installed.*0\.65\.5"):
        datasette_shims.startup(datasette=None)
    datasette_shims.check_version("0.65.5")  # the pinned one passes


@pytest.mark.asyncio(loop_scope="session")
async def test_the_site_does_not_start_on_another_version(monkeypatch):
    monkeypatch.setattr(datasette_package, "__version__", "1.0a19")
    ds = make_datasette()
    # Datasette loads the plugin from its file, so its exception class is that module's: match the message.
    with pytest.raises(RuntimeError, match=r"Datasette 1\.0a19 is installed"):
        await ds.invoke_startup()


@pytest.mark.asyncio(loop_scope="session")
async def test_the_permission_patch_is_in_effect(monkeypatch):
    ds = make_datasette()
    await ds.invoke_startup()
    patched = Datasette._table_permission_allows
    assert patched.shim == "datasette_shims"
    assert set(datasette_shims.PATCHES) == {"Datasette._table_permission_allows", "Datasette.executor",
                                            "Database schema methods"}
    calls = []
    original = patched.__wrapped__

    def counting(self, database, table):
        calls.append((database, table))
        return original(self, database, table)

    monkeypatch.setattr(patched, "__wrapped__", counting)
    for _ in range(3):
        response = await ds.client.get("/synthetic_demo/boroughs.json?_size=1")
        assert response.status_code == 200
    # Datasette checks view-table on every request; the deep-copying original ran once for this table.
    assert calls.count(("synthetic_demo", "boroughs")) == 1


def live_cursors() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, sqlite3.Cursor))


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("failing_sql", [
    "select randomblob(999999999)",  # over SQLite's length limit (plugins/sql_limits.py)
    "select * from no_such_table",
])
async def test_a_failed_query_leaves_no_cursor_for_the_garbage_collector(failing_sql):
    # Patch 2: the garbage collector, running in the event loop, would reset this cursor's statement and wait for
    # its connection's mutex while the SQL thread runs its next query (the stall under the huge-value attack).
    ds = make_datasette()
    await ds.invoke_startup()
    assert getattr(ds.executor, "shim", None) == "datasette_shims"  # the plugin file is loaded as its own module
    db = ds.get_database("synthetic_demo")
    await db.execute("select 1")  # the SQL thread and its connection exist
    gc.collect()
    gc.disable()
    try:
        before = live_cursors()
        held = []
        for _ in range(3):
            try:
                await db.execute(failing_sql)
            except Exception as exception:  # kept, as Datasette keeps the error to render it
                held.append(exception)
        assert len(held) == 3 and all(e.__traceback__ is not None for e in held)
        assert live_cursors() == before
    finally:
        gc.enable()


def test_without_the_patch_the_failed_query_keeps_its_cursor():
    # The same failure in a plain thread pool: the kept exception's frames hold the cursor (what patch 2 prevents).
    conn = sqlite3.connect(":memory:", check_same_thread=False)

    def failing():
        cursor = conn.cursor()
        cursor.execute("select * from no_such_table")

    gc.collect()
    for executor_class, grows in ((futures.ThreadPoolExecutor, True), (datasette_shims.QueryThreadExecutor, False)):
        with executor_class(max_workers=1) as executor:
            before = live_cursors()
            with pytest.raises(sqlite3.OperationalError) as caught:
                executor.submit(failing).result()
            assert (live_cursors() > before) is grows, executor_class
            del caught
            gc.collect()


@pytest.mark.asyncio(loop_scope="session")
async def test_an_immutable_database_schema_is_read_once(tmp_path):
    # Patch 3: schema questions about an immutable database reach a SQL thread once; a mutable database is asked
    # every time, and callers get their own copies.
    ds = make_datasette()
    await ds.invoke_startup()
    assert all(getattr(getattr(Database, name), "shim", None) == "datasette_shims"
               for name in datasette_shims.SCHEMA_METHODS)
    immutable = ds.get_database("synthetic_demo")
    mutable_path = tmp_path / "mutable.db"
    sqlite3.connect(mutable_path).execute("create table t (id integer primary key)").connection.close()
    mutable = ds.add_database(Database(ds, path=str(mutable_path), is_mutable=True), name="mutable_probe")
    trips = {"synthetic_demo": 0, "mutable_probe": 0}
    original = Database.execute_fn

    async def counting(self, fn):
        if self.name in trips:
            trips[self.name] += 1
        return await original(self, fn)

    Database.execute_fn = counting
    try:
        first = await immutable.table_names()
        keys = await immutable.get_all_foreign_keys()
        trips_after_first = trips["synthetic_demo"]
        for _ in range(3):
            assert await immutable.table_names() == first
            assert await immutable.get_all_foreign_keys() == keys
            await mutable.table_names()
        assert trips["synthetic_demo"] == trips_after_first  # no more trips
        assert trips["mutable_probe"] == 3
    finally:
        Database.execute_fn = original
    first.append("changed by a caller")
    keys["services"]["incoming"].clear()
    assert "changed by a caller" not in await immutable.table_names()
    assert (await immutable.get_all_foreign_keys())["services"]["incoming"]
    # the answers are Datasette's own
    assert await immutable.table_names() == await Database.table_names.__wrapped__(immutable)
    assert await immutable.primary_keys("services") == ["service_id"]
