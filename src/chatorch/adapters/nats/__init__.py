"""NATS JetStream adapters (nats-py): the work queue and the event log.

Every subject and stream name starts with the namespace, so deployments and test
runs can share one NATS server.
"""
