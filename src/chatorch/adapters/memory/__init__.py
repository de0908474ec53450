"""In-process adapters for the embedded mode: no server, same contracts.

Everything that would cross a network is encoded to JSON here too, so the embedded
mode exercises the same serialisation as the distributed one.
"""
