"""Adapters: one folder per technology, each implementing ports.

Only ``chatorch.wiring`` imports them.
"""
