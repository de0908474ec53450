"""LLM providers: an OpenAI-compatible client and an offline builtin responder."""
