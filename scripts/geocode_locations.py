"""Curator command: place service delivery points that state a postcode at their postcode-district centroid.

    python -m scripts.geocode_locations            # dry run: say what would change
    python -m scripts.geocode_locations --write    # rewrite data/services/locations.csv

One of the documented commands that write to data/ (docs/DEVELOPING.md, "Curator commands").
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def geocode_locations(locations: list[dict], districts: list[dict]) -> tuple[list[dict], list[str]]:
    """Fill latitude/longitude/gss_code/postcode_district of locations that state a postcode but have no coordinates,
    from the postcode-district centroid. Returns (rows, messages). Rows with coordinates are left as they are."""
    by_outcode = {d["outcode"]: d for d in districts}
    out, messages = [], []
    for row in locations:
        row = dict(row)
        postcode = (row.get("postcode") or "").strip().upper()
        if postcode and not row.get("latitude") and row.get("geocode_precision") in ("", "not geocoded"):
            outcode = postcode.split()[0]
            district = by_outcode.get(outcode)
            if district is None:
                messages.append(f"{row['location_id']}: {outcode} is not a London postcode district; left blank")
            else:
                row.update({
                    "postcode_district": outcode,
                    "gss_code": district["gss_code"],
                    "latitude": district["latitude"],
                    "longitude": district["longitude"],
                    "geocode_precision": "postcode district centroid",
                })
                messages.append(f"{row['location_id']}: placed at the {outcode} centroid")
        out.append(row)
    return out, messages


def main(argv: list[str] | None = None) -> int:
    """python -m scripts.geocode_locations [--write]: place sites with a stated postcode at its district centroid."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--write", action="store_true", help="write data/services/locations.csv (default: dry run)")
    args = parser.parse_args(argv)
    path = args.data / "services" / "locations.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    with (args.data / "reference" / "postcode_districts.csv").open(encoding="utf-8-sig", newline="") as handle:
        districts = list(csv.DictReader(handle))
    rows, messages = geocode_locations(rows, districts)
    for message in messages:
        print(message)
    if args.write:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
