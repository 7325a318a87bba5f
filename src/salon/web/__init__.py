"""Web layer: the only package that imports the web framework (FastAPI/Starlette).

Routes are thin: parse and validate input (pydantic schemas), call one use case, shape the answer. Errors are
mapped to HTTP statuses and WebSocket codes in ``errors.py`` only.
"""
