"""Curator command: what must be checked again (`make review`), from the built database, as /review-due shows it.

    python -m scripts.review_due [--db build/commissioning.db]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from plugins.view_models import review
from scripts.site import BUILD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=BUILD / "commissioning.db")
    args = parser.parse_args(argv)
    if not args.db.exists():
        print(f"{args.db}: no such database; run make build first", file=sys.stderr)
        return 1
    conn = sqlite3.connect(f"file:{args.db.resolve()}?mode=ro", uri=True)
    sys.stdout.write(review.as_text(review.review_lists(conn)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
