"""HTTP/3 over QUIC (needs the ``h3`` extra: aioquic).

``endpoint`` is the sans-IO QUIC endpoint of one UDP socket: it routes datagrams to
connections and drives their timers. ``tls`` builds aioquic's ``QuicConfiguration`` from a
``Config`` (it reads the certificate files, so it is not sans-IO). Nothing here imports
aioquic at import time.
"""
