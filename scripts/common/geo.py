"""Small geometry helpers with no dependencies: point in the Greater London boundary, and distances."""

from __future__ import annotations

import math
from dataclasses import dataclass


def point_in_ring(lon: float, lat: float, ring: list) -> bool:
    """Ray casting: is (lon, lat) inside the closed ring of [lon, lat] pairs?"""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def polygons_of(geometry: dict) -> list[list]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"unsupported geometry type {geometry['type']}")


@dataclass
class LondonBoundary:
    """The union of the borough polygons; a point is in London when it is inside any of them."""

    features: list[tuple[str, list[list]]]  # (gss_code, polygons)
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    # The simplified boundaries are clipped to mean high water and lose ~20 m at the edges; a point
    # within this margin (degrees, about 500 m) of the bounding box is checked against polygons anyway.
    tolerance: float = 0.005

    @classmethod
    def from_geojson(cls, collection: dict) -> LondonBoundary:
        features = []
        lons, lats = [], []
        for feature in collection["features"]:
            polygons = polygons_of(feature["geometry"])
            for polygon in polygons:
                for lon, lat in polygon[0]:
                    lons.append(lon)
                    lats.append(lat)
            features.append((feature["properties"]["gss_code"], polygons))
        return cls(features, (min(lons), min(lats), max(lons), max(lats)))

    def borough_at(self, lat: float, lon: float) -> str | None:
        # Each outer ring's bounding box is checked first (a necessary condition): ray casting against all 33
        # boroughs was a sixth of the build time at synthetic scale (issue 9 benchmark).
        boxes = self.__dict__.setdefault("_ring_boxes", {})
        for gss_code, polygons in self.features:
            for polygon in polygons:
                key = id(polygon[0])
                if key not in boxes:
                    xs, ys = [p[0] for p in polygon[0]], [p[1] for p in polygon[0]]
                    boxes[key] = (min(xs), min(ys), max(xs), max(ys))
                box = boxes[key]
                if not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
                    continue
                if point_in_ring(lon, lat, polygon[0]) and not any(
                    point_in_ring(lon, lat, hole) for hole in polygon[1:]
                ):
                    return gss_code
        return None

    def contains(self, lat: float, lon: float) -> bool:
        min_lon, min_lat, max_lon, max_lat = self.bbox
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            return False
        if self.borough_at(lat, lon) is not None:
            return True
        # The Thames is excluded from the polygons (clipped to mean high water): accept points within
        # the tolerance of some borough polygon vertex, e.g. a pier or a riverside building.
        t = self.tolerance
        return any(
            abs(vlon - lon) <= t and abs(vlat - lat) <= t
            for _, polygons in self.features
            for polygon in polygons
            for vlon, vlat in polygon[0]
        )


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
