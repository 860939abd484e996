"""The ASGI side of every HTTP version: the stream model and scope building.

A protocol module (``http1``, ``http2``, next ``http3``) maps its wire events onto
:class:`~hypercorn_protocol.asgi.stream.StreamConnection`; everything an ASGI app can
see (messages, backpressure, ``http.disconnect``, the 500 fallback, access-log
summaries, the WebSocket glue) is written once here.
"""
