"""The garbage collector, tuned for a long-running server once it has started.

CPython looks for reference cycles every 700 net allocations of container objects.
An answer makes thousands of short-lived ones (stream chunks, events, rows) that
reference counting frees at once, yet they still trip that threshold: under load the
collector ran about 25 times a second, and each full pass walked all ~220,000
objects made at start-up (SQLAlchemy, pydantic, FastAPI, the app) that live as long
as the process. At concurrency 64 that was about 9% of the server's CPU
(docs/performance.md).

:func:`settle` moves what exists into the permanent generation, which no pass walks,
and looks at young objects every 10,000 net allocations instead of 700. Cycles made
later are still found and freed; they just wait a little longer.
"""

import gc

YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Call once start-up is done, before serving: freeze it, then collect less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
