"""Text normalisation, MinHash signatures and the LSH index of reserved works (pure)."""
