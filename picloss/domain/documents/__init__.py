"""Document reading rules: field validators, OCR-confusion correction, cross-document checks.

Shared by the OCR service (per document) and the orchestrator (across the documents of a claim).
"""
