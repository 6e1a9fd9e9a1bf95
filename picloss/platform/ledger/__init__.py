"""PostgreSQL ledger (asyncpg): idempotency, state, nonces, deliveries and reconciliation."""

from picloss.platform.ledger.store import AcceptResult, Delivery, Ledger, LedgerUnavailable, RequestRow

__all__ = ["AcceptResult", "Delivery", "Ledger", "LedgerUnavailable", "RequestRow"]
