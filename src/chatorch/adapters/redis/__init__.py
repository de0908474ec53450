"""Redis adapters (redis-py asyncio): the cache and the session registry.

Every key starts with ``<namespace>:`` so deployments and test runs share a server safely.
"""
