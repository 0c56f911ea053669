"""OTLP receiver: transports (gRPC, HTTP), decoding, semantic-convention mapping, batching."""

from tracehouse import compiled

compiled.install()  # before any module of the decoder is imported: their compiled form, if built

__all__: list[str] = []
