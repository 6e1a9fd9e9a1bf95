"""The engines: one per model service (classifier, ocr, damage, aggregator) plus the orchestrator's pipeline, the
model contracts (`models`), photo registration and box geometry. Import the platform, the domain, the protocol and
the generated code (`picloss.rpc`); never the client."""
