"""The small interfaces the pipeline and the API depend on: one ``Protocol`` per file.

Adapters implement them (``chatorch.adapters``); only ``chatorch.wiring`` picks which.
Every port has a contract suite in ``tests/contract`` that each of its adapters passes.
"""
