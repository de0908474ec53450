"""Rate limiters: the RateLimiter port on the ``limits`` library (memory or Redis)."""
