"""vident: an open victim-identification database.

Ingest seized material, recognise what is already known (exact and perceptual hashes),
and triage the rest so that new material, which may show a child still at risk, is seen first.
"""

__version__ = "0.1.0"
