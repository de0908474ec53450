"""chatorch: a conversational-AI orchestration backend.

Layers, outermost first: ``cli`` → ``api`` → ``wiring`` → ``adapters`` | ``pipeline``
→ ``services`` → ``ports`` → ``domain``. Imports only ever point inward.
"""

__version__ = "0.1.0"
