"""Story lookup cost: signature + story lookup per article with 100,000 stories known, and the
memory those stories take, in the in-memory window and on disk.

    python -m bench.stories_bench            # 100,000 stories
    python -m bench.stories_bench --stories 20000

Articles are synthetic (word sequences drawn from a Zipf-like vocabulary of 30,000 words, 250-700
words each, about the size of a news article), so any machine can run it; the timed lookups are
new articles, half of them near-duplicates of a known story (a rewrapped copy) and half new.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
import tracemalloc

from monitor import stories, story_index


def vocabulary(rng: random.Random, size: int = 30_000) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(size)]
    cumulative, total = [], 0.0
    for rank in range(size):
        total += 1 / (rank + 1)
        cumulative.append(total)
    return words, cumulative


def article(rng: random.Random, words: list[str], weights: list[float]) -> tuple[str, str]:
    body = rng.choices(words, cum_weights=weights, k=rng.randint(250, 700))
    title = " ".join(rng.choices(words, cum_weights=weights, k=8))
    return title, " ".join(body)


def rewrap(rng: random.Random, text: str, words: list[str]) -> str:
    """The same report from another outlet: a different first sentence and sign-off."""
    tokens = text.split()
    cut = rng.randint(10, 30)
    return " ".join(rng.choices(words, k=cut) + tokens[cut:] + rng.choices(words, k=20))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stories_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    words, weights = vocabulary(rng)

    texts = []
    started = time.perf_counter()
    tracemalloc.start()
    index = story_index.StoryIndex(window=10 * 365 * 86400)
    for number in range(args.stories):
        title, text = article(rng, words, weights)
        if number < 2000:
            texts.append((title, text))
        index.add(number, stories.signature(title, text), 0.0, title)
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    build = time.perf_counter() - started

    timings, joined = [], 0
    for number in range(args.lookups):
        if number % 2:
            title, text = texts[rng.randrange(len(texts))]
            text = rewrap(rng, text, words)
        else:
            title, text = article(rng, words, weights)
        begin = time.perf_counter()
        signature = stories.signature(title, text)
        found = index.find(signature, 1.0)
        timings.append(time.perf_counter() - begin)
        joined += (found is not None) == bool(number % 2)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = statistics.median(timings) * 1000
    p95 = sorted(timings)[int(len(timings) * 0.95)] * 1000
    print(f"stories known: {args.stories:,} (built in {build:.1f} s)")
    print(f"signature + lookup per article: median {median:.2f} ms, p95 {p95:.2f} ms (target: median <= 2 ms)")
    print(f"decisions as expected (copies joined, new articles not): {joined}/{args.lookups}")
    print(f"in-memory index: {current / 1e6:.0f} MB for {args.stories:,} stories "
          f"({current / args.stories:.0f} bytes each); process peak RSS {rss_mb:.0f} MB")
    sample = stories.signature(*texts[0])
    print(f"on disk: {len(sample.pack())} bytes of signature per article (plus its text)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
