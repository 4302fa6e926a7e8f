"""newsmon's benchmark harness: what newsmon costs, measured against its libraries' own floor.

Run from the repository root with the project's virtualenv:

    python -m bench --quick     # about 8 minutes, results in bench/results/quick-<time>.json
    python -m bench             # the full run; rewrites docs/benchmarks.md

Modules, one job each:

- `corpus`   reads the shared corpus (never copied into the repo) and builds the feed farm's
             content: real feeds, capped, every URL in them rewritten to a loopback page
- `farm`     the loopback web server (its own process): feeds with ETag/304, article pages from
             the real HTML, new entries published at a controlled rate, a webhook receiver
- `procs`    running newsmon as a subprocess and measuring it: CPU of the whole process tree,
             wall time, resident memory of the tree
- `floor`    the libraries alone: feedparser + trafilatura + the matcher in a 2-process pool
- `quality`  extraction quality on the article-extraction-benchmark pages
- `scenarios` the measures (a)-(f), each a function returning plain numbers
- `peers`    rss2email and feed2exec (Debian's packages) and newsmon, each set up to poll the farm,
             and the loopback SMTP sink their mails go to
- `copies`   article pages copied per link, their URLs made unique to it (no two items share one)
- `sidebyside` the measures (h)-(j): newsmon next to the peers, full-text memory, warm at scale
- `report`   the results table and docs/benchmarks.md (`notes` the page around it, `peer_report`
             the side-by-side part)

Benchmarks send traffic to loopback addresses (127.0.0.0/8) only.
"""
