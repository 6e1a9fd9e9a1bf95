"""The HTTPS gateway: signed JSON protocol in, ledger row + Kafka event out."""
