"""GET /v1/map: what the page needs to draw a base map, from the bundle's `map_tiles` setting
(docs/map.md). No tile service, or no Leaflet installed: `tiles` is null and the page draws
its own SVG map."""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from alerts.feed.routes.deps import FeedDep, current_caller


class TileLayer(BaseModel):
    url: str = Field(description="an XYZ template: {s} {z} {x} {y}")
    labels_url: str | None = Field(None, description="place names drawn over `url` (天地图 cva)")
    subdomains: str
    attribution: str
    max_zoom: int
    crs: Literal["wgs84", "gcj02"] = Field(description="the tiles' datum; gcj02: the page "
                                           "shifts what it draws onto them")


class MapConfig(BaseModel):
    tiles: TileLayer | None
    leaflet: str | None = Field(description="where the map library is served; null: not "
                                "installed (no npm at install time)")


LEAFLET_PATH = "/assets/vendor/leaflet/"


router = APIRouter(prefix="/v1", tags=["feed"])


# a tile key is for officers only: logged in, whoever they are
@router.get("/map", response_model=MapConfig, dependencies=[Depends(current_caller)])
def map_config(feed: FeedDep):
    """The base map's tile service (settings.toml `[map_tiles]`)."""
    t = feed.views.get().bundle.settings.map_tiles
    tiles = None
    if t.url and feed.leaflet:
        tiles = TileLayer(url=t.url, labels_url=t.labels_url or None, subdomains=t.subdomains,
                          attribution=t.attribution, max_zoom=t.max_zoom, crs=t.crs)
    return MapConfig(tiles=tiles, leaflet=LEAFLET_PATH if feed.leaflet else None)
