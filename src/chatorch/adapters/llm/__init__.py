"""LLM providers: OpenAI-compatible servers, Anthropic, and the offline builtin responder.

The two network providers let the official SDK work out the URL and headers once, send
each call on one aiohttp session (``endpoint``, ADR 0011) and read the stream raw
(``sse``); ``transport`` turns a failed exchange into an ``LLMError`` that says whether
to retry. Only ``chatorch.wiring`` imports this package.
"""
