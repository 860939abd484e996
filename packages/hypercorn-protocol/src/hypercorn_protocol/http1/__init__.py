"""HTTP/1.1: the connection (stream model mapping), the wire seam and its h11 implementation."""
