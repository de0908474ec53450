"""Blob stores: the bytes of uploaded files. ``files`` keeps them in a folder
(``CHATORCH_BLOB_URL=file:<folder>``). Only ``chatorch.wiring`` imports this package."""
