"""A stand-alone app around the feed router, for tests and for a service that serves nothing
else; a service with its own app includes `build_router(service)` instead."""

from __future__ import annotations

from fastapi import FastAPI

from alerts.feed.api import build_router
from alerts.service import OfficerService


def create_feed_app(service: OfficerService, **router_kw) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None,  # the router serves /docs without a CDN
                  title="Lookout officers' feed 瞭望", version="1",
                  description="Alerts for community-correction officers (SPEC §4, §7).")
    app.include_router(build_router(service, **router_kw))
    return app
