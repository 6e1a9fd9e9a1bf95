"""Training and evaluation pipelines (documents, damage)."""
