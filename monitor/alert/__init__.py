"""Alerts: rendering them for each kind of channel and handing them to apprise. The only
package that imports apprise.

`render` turns an alert (or a digest / flood summary) into title and body for a body format;
`channel` owns the apprise objects, one per target URL; `redact` keeps their secrets out of
every log line.
"""

from monitor.alert.channel import Channel, Outcome, Target, build_channels, check_url, privacy_url, thread_id
from monitor.alert.redact import SECRETS
from monitor.alert.formats import Batch, Part, escape, render, render_batch

__all__ = ["SECRETS", "Batch", "Channel", "Outcome", "Part", "Target", "build_channels", "check_url", "escape", "privacy_url",
           "render", "render_batch", "thread_id"]
