"""The authors' opt-out registry (SQLite via sqlite-utils)."""
