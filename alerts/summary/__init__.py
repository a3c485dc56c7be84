"""The shift supervisor's summary (值班交接汇总): figures from alert update records, rendered as
JSON, Markdown, CSV or printable HTML with charts, and the `lookout summary` command.

    s = compute_summary(updates, bundle, start_ms, end_ms, office=None, now_ms=None,
                        visible_offices=None, version_times=None, ack_by=None)
    text = render(s, "html", lang="both")
"""

from alerts.summary.cli import cli_summary
from alerts.summary.compute import compute_summary
from alerts.summary.model import Summary
from alerts.summary.render import render

__all__ = ["Summary", "cli_summary", "compute_summary", "render"]
