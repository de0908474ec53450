"""In-process adapters for the embedded mode: no server, same contracts.

Work items cross the in-process bus as JSON, as they cross NATS; stream events cross it
as the immutable ``StreamEvent`` objects, unencoded (ADR 0001, amended): their JSON form
is tested in the unit tests and on NATS instead. The cache holds bytes, as Redis does.
"""
