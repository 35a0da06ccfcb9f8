"""Genesys Statistics API v3, live event ingest and Workbins adapters."""
