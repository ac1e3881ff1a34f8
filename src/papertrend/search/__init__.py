"""Search: keyword (FTS5 | tsvector), vectors (exact | ANN), embeddings, and their fusion."""
