"""Qdrant: the vector index of file chunks, in this process (local mode) or on a server.

Only ``chatorch.wiring`` imports this package.
"""
