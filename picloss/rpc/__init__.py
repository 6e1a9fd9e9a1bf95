"""Generated code only (`make proto` from protos/picloss/rpc/<service>/v1/*.proto): the gRPC and event messages.
The proto packages stay `picloss.<service>.v1`, so the wire names did not change when the code moved here."""
