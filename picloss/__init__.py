"""Shared code of every picloss process: protocol, ledger, Kafka loop, observability, inference."""
