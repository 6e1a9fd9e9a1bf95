"""The platform: what every process runs on and that knows nothing of insurance — configuration, health, the
HTTP and gRPC servers, Kafka, the PostgreSQL ledger, metrics and logs, model runners (onnxruntime / Triton),
image decoding, outbound-network guards and the registry of processes. Imports only itself."""
