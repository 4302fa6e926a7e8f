"""Everything from a rule's match to apprise; the only package that imports apprise.

Why did this alert go (or not go) to that channel, and what did it say? Read, in order:

- `routing`: which alerts a match makes (once per story, follow-ups) and which channels take
  them (`channels`, `default_channels`, `min_severity`, `rules`); problems found at load;
- `message`: what an alert says (snippet, highlights, severity, outlets, update), newsmon's own
  notices and the sample alert of `newsmon notify-test`;
- `formats`: the template placeholders and the rendering for each body format, with escaping;
- `channel`: the apprise objects, one per target URL, made when first needed, and their
  delivery; `redact` keeps their secrets out of every log line; `accepted` remembers the URLs
  apprise accepted, so that a cycle that sends nothing does not import apprise;
- `drain`: the outbox delivered per channel (alone, flood-controlled or as a digest), retries,
  backoff and dead alerts, against the narrow `Outbox` interface the store satisfies.
"""

from monitor.alert import accepted
from monitor.alert.channel import Channel, Outcome, Target, build_channels, check_url, privacy_url, thread_id
from monitor.alert.drain import Mark, Outbox, drain, retry_delay
from monitor.alert.holds import digest_due
from monitor.alert.batches import Batch, Part, render_batch
from monitor.alert.formats import PLACEHOLDERS, escape, render, template_problem
from monitor.alert.message import for_match, notice, sample, with_outlets
from monitor.alert.redact import SECRETS
from monitor.alert.routing import Router, StoryHistory, accepts, routes, routing_problems

__all__ = ["PLACEHOLDERS", "SECRETS", "Batch", "accepted", "Channel", "Mark", "Outbox", "Outcome", "Part", "Router", "StoryHistory",
           "Target", "accepts", "build_channels", "check_url", "digest_due", "drain", "escape", "for_match", "notice",
           "privacy_url", "render", "render_batch", "retry_delay", "routes", "routing_problems", "sample",
           "template_problem", "thread_id", "with_outlets"]
