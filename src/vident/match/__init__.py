"""Matching: exact and near lookups against known material, and the triage built on them."""
