"""The durable change history of the record: the git history of data/, read file by file and diffed with csv-diff.

A published CSV's versions are the commits that touched it (oldest first, `git log --reverse`), plus the working
tree when it differs from the last commit (a curator's change not yet committed). Consecutive versions are compared
by key with csv-diff: rows added, rows removed, and each changed field with its old and new value. The history is a
function of the commits alone, so two clones of the same commit, or a build after `make clean`, publish the same
history. Outside a git checkout (a copied data package, the synthetic demo) there is one version: the files as
they are, dated with the build date.

A clone needs the commits it should show: a shallow clone (`git clone --depth 1`) shows everything as added in its
one commit. CI clones the whole repository (docs/keeping-current.md).
"""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import csv_diff

WORKING_TREE = "working tree"  # the `commit` of a version that is not committed yet


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def repository_of(path: Path) -> Path | None:
    """The top of the git checkout holding `path`, or None when it is not in one (or git is missing)."""
    try:
        top = _git(path.parent, "rev-parse", "--show-toplevel").strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(top) if top else None


def versions_together(paths: list[Path]) -> list[tuple[str, str | None, dict[Path, str]]]:
    """(commit, committed_on, {path: text}) for every commit that touched any of `paths`, oldest first, then the
    working tree when it differs from the last commit. A file missing at a commit reads as empty."""
    paths = [p.resolve() for p in paths]
    current = {p: (p.read_text(encoding="utf-8-sig") if p.exists() else "") for p in paths}
    repo = repository_of(paths[0])
    relative = {p: p.relative_to(repo.resolve()).as_posix() for p in paths} if repo else {}
    if repo is None or any(_ignored(repo, r) for r in relative.values()):
        return [(WORKING_TREE, None, current)]
    out = []
    log = _git(repo, "log", "--reverse", "--format=%H %cs", "--", *relative.values())
    for line in log.splitlines():
        commit, day = line.split(" ", 1)
        texts = {}
        for p, r in relative.items():
            try:
                texts[p] = _git(repo, "show", f"{commit}:{r}").lstrip("\ufeff")
            except subprocess.CalledProcessError:  # not there at this commit
                texts[p] = ""
        out.append((commit, day, texts))
    if not out or out[-1][2] != current:
        out.append((WORKING_TREE, None, current))
    return out


def _ignored(repo: Path, relative: str) -> bool:
    result = subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", relative], capture_output=True)
    return result.returncode == 0


def rows_by_key(text: str, key: str) -> dict[str, dict]:
    """A version's rows by key; a version without the key column (or empty) has no rows."""
    if not text.strip():
        return {}
    header = next(csv.reader(io.StringIO(text)), [])
    if key not in header:
        return {}
    return csv_diff.load_csv(io.StringIO(text), key=key)


def grouped(text: str, key: str, value: str) -> dict[str, str]:
    """{key: "v1; v2"} from a two-column link file (service_id, gss_code), sorted, for the pseudo-field."""
    out: dict[str, list[str]] = {}
    if text.strip():
        for row in csv.DictReader(io.StringIO(text)):
            if row.get(key) and row.get(value):
                out.setdefault(row[key], []).append(row[value])
    return {k: "; ".join(sorted(v)) for k, v in out.items()}


def compare(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """csv-diff's comparison of two versions (added, removed, changed with {field: [old, new]}); csv-diff needs a row
    on each side, so a version with no rows is everything added or everything removed."""
    if not before or not after:
        return {"added": list(after.values()), "removed": list(before.values()), "changed": []}
    return csv_diff.compare(before, after)
