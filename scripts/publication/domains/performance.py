"""Performance measures and RAG ratings (issue 5)."""
