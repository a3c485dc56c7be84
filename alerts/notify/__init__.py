"""Pushes for new and escalated alerts to WeCom / DingTalk group robots and JSON webhooks.

    notifier = Notifier.from_file("notify.toml", bundle=runtime.bundle)
    notifier.offer(update)        # every committed alert update; never blocks, never raises
    notifier.close(timeout=10)    # at shutdown: drains, dead-letters the rest

See README.md in this folder for the configuration and the decisions behind it.
"""

from alerts.notify.config import NotifyConfig, NotifyConfigError, Retry, Target, load_config
from alerts.notify.directory import Directory
from alerts.notify.notifier import Notifier

__all__ = ["Directory", "Notifier", "NotifyConfig", "NotifyConfigError", "Retry", "Target",
           "load_config"]
