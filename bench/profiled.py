"""Run the `newsmon` command with its polling cycle under cProfile, with a CPU-time clock, so
that the profile shows where the main process spends CPU rather than where it waits (the
default clock is wall time, and an event loop mostly waits). Only `monitor.pipeline.cycle` is
profiled: start-up (imports, config, store) and shut-down are left out.

    python -m bench.profiled OUT.prof -- --config PATH run --once
"""

from __future__ import annotations

import cProfile
import sys
import time


def main() -> int:
    out, separator, *args = sys.argv[1:]
    if separator != "--":
        raise SystemExit("usage: python -m bench.profiled OUT.prof -- NEWSMON-ARGS...")
    from monitor import cli, pipeline

    profile = cProfile.Profile(time.process_time)
    original = pipeline.cycle

    async def cycle(*args, **kwargs):
        profile.enable()
        try:
            return await original(*args, **kwargs)
        finally:
            profile.disable()

    pipeline.cycle = cycle  # `run --once` looks it up when it calls it
    try:
        return cli.main(args)
    finally:
        profile.dump_stats(out)


if __name__ == "__main__":
    sys.exit(main())
