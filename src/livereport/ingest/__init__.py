"""Ingest: request bodies → validated events → de-duplicated, batched inserts."""
