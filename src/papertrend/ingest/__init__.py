"""Ingest: sources (fetch = I/O, parse = pure), cursors, and the pipeline that stores batches."""
