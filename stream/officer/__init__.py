"""What both officer-service backends (alerts/service.py `OfficerService`) do alike, one idea a
module:

* `announce`: who hears of alert versions new to the store (metrics, notifications, the page's
  streams), seeded from the store at start.
* `persons`: the reference data the feed reads: each person's office, and persons released
  from supervision (解除矫正) whose alerts stay with their office.
* `actions`: an officer's action as both backends take it in and log it.
* `lines`: event lines as both backends take them in.
* `purge`: retention (tracks and dead letters past `track_retention_days`), now or hourly.
* `faults`: store writes the disk refused, counted and shown until one succeeds.

What a backend cannot do it refuses with `alerts.service.NotInThisMode`, in its own module.
"""
