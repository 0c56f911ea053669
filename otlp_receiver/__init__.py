"""OTLP receiver: transports (gRPC, HTTP), decoding, semantic-convention mapping, batching."""

__all__: list[str] = []
