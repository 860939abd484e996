"""HTTP/3 over QUIC (needs the ``h3`` extra: aioquic).

``endpoint`` is the sans-IO QUIC endpoint of one UDP socket: it routes datagrams to
connections and drives their timers. ``connection`` is HTTP/3 on one QUIC connection,
mapped onto the shared ASGI stream model. ``hypercorn_protocol.server.quic`` builds
aioquic's ``QuicConfiguration`` from a ``Config`` (it reads the certificate files, so it
is not sans-IO). Nothing here imports aioquic at import time.
"""
