"""Entities, ids, stream events and the error hierarchy: pure Python, no I/O.

Everything else in chatorch may import from here; this package imports nothing of ours.
"""
