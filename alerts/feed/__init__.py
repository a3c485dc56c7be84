"""The officers' feed: login and scopes (`access`), the HTTP API (`api`), the web page (`web/`).

    from alerts.feed.api import build_router
    app.include_router(build_router(runtime))   # /v1/... and the page at /

`runtime` is the live runtime (bundle, store, submit_action, subscribe); see `api.py`.
"""
