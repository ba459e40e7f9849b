"""Signal kinds (hashes and, later, embeddings): one class each, one registry."""
