"""structlog JSON logs and the Prometheus registry shared by every process."""
