"""Storage: the SQLite database and the article files (reading, indexing, exact line edits)."""
