"""The officers' feed: login and scopes (`access`), the HTTP API (`api` gathers the handler
modules of `routes/`, `person`, `roster`, `basemap`, `summary_page` and /v1/admin from
alerts/admin/api.py), the web page (`web/`).

    from alerts.feed.api import build_router
    app.include_router(build_router(service))   # /v1/... and the page at /

`service` is the running officer service (alerts.service.OfficerService); see `api.py`.
"""
