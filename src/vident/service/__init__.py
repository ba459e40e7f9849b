"""The use cases of vident, one function each, under every interface.

The command line and the web API are thin shells over this package: they parse input, call one
function with a :class:`~vident.service.context.Context` (store, settings, indexes and the
acting principal) and render the pydantic model it returns. Transactions, index catch-up and
saving, authorisation, audit records and atomic file output happen here, once.
"""
