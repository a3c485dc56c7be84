"""The feed's HTTP handlers, one module-level `APIRouter` per concern; `alerts/feed/api.py`
`build_router` includes them all with one `Feed` bound (routes/deps.py).

    deps      Feed, Caller and the dependencies handlers ask for (FeedDep, Service, Auth)
    session   login, logout, me
    alerts    the triage list and one alert's detail
    actions   签收 / 处置, one alert or many
    persons   the caller's persons and a person's track
    events    the server-sent stream of alert updates and its one-time ticket
    ops       what an operator must act on now; the page's words
"""
