"""WebSocket over any HTTP version: the stream, the opening handshake, bounded deflate."""
