"""The HTTP API: FastAPI app, one router per resource, SSE event streams, the web page.

Imports pipeline, services, ports and domain, and gets its adapters only through
``chatorch.wiring``; never imports ``chatorch.adapters`` directly.
"""
