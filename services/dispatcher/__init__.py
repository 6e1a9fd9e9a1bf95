"""The callback dispatcher: result events in, signed callbacks out, retries due in the ledger."""
