"""The officers' feed: login and scopes (`access`), the HTTP API (`api`), the person view
(`person`), the shift summary page (`summary_page`), the web page (`web/`). With the live
runtime, `api` also mounts /v1/admin (alerts/admin/api.py).

    from alerts.feed.api import build_router
    app.include_router(build_router(runtime))   # /v1/... and the page at /

`runtime` is the live runtime (bundle, store, submit_action, subscribe); see `api.py`.
"""
