"""Reference data while the service runs (persons, zones, permits, shifts), retention of
personal data, and the `lookout admin` / `lookout purge` commands.

    bundle_files  the bundle's files as text; crash-safe changes (used by stream/live.py)
    edits         pure edits of those texts: add a permit, release a person, ...
    api           /v1/admin/... (role admin; supervisors: their offices' permits)
    retention     purging tracks and dead letters past `track_retention_days`
    cli           `lookout admin ...` over HTTP, `lookout purge` on the store file
"""
