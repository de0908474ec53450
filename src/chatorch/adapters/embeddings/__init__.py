"""Embedders: WordLlama, offline, with its weights in its package (the default), and
any OpenAI-compatible ``/v1/embeddings``. Only ``chatorch.wiring`` imports this package.
"""
