"""The REST API of vident (``/api/v1``): thin FastAPI routes over :mod:`vident.service`.

Each route authenticates the caller, calls one use case and returns the pydantic model it
gives back; the models are the JSON contract and the OpenAPI schema. See ``docs/api.md``.
"""
