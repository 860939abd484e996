"""The read-only view of configuration that the protocol core depends on.

``hypercorn_protocol.config.Config`` satisfies it, and is where every default lives;
a custom server may pass any object with these attributes (a frozen dataclass, say)
instead. The core reads each attribute as it is, with no fallback of its own.
"""

from __future__ import annotations

from typing import Protocol


class HTTP2Settings(Protocol):
    """The HTTP/2 limits, read when an HTTP/2 connection starts."""

    @property
    def h2_max_concurrent_streams(self) -> int: ...
    @property
    def h2_max_header_list_size(self) -> int: ...
    @property
    def h2_max_inbound_frame_size(self) -> int: ...
    @property
    def h2_stall_timeout(self) -> float | None: ...


class WebSocketSettings(Protocol):
    """The WebSocket options, read when a WebSocket opens.

    ``websocket_max_message_size``, ``websocket_ping_interval`` (None: no pings),
    ``websocket_pong_timeout`` and ``websocket_compression``; their defaults are
    those of :class:`~hypercorn_protocol.config.Config`.
    """

    @property
    def max_app_queue_size(self) -> int: ...
    @property
    def websocket_compression(self) -> bool: ...
    @property
    def websocket_max_message_size(self) -> int: ...
    @property
    def websocket_ping_interval(self) -> float | None: ...
    @property
    def websocket_pong_timeout(self) -> float | None: ...


class ProtocolSettings(HTTP2Settings, WebSocketSettings, Protocol):
    """Every setting read by :class:`~hypercorn_protocol.ServerConnection`."""

    @property
    def alt_svc_headers(self) -> list[str]: ...
    @property
    def h11_max_incomplete_size(self) -> int: ...
    @property
    def h11_pass_raw_headers(self) -> bool: ...
    @property
    def http_parser(self) -> str: ...
    @property
    def include_date_header(self) -> bool: ...
    @property
    def include_server_header(self) -> bool: ...
    @property
    def keep_alive_max_requests(self) -> int: ...
    @property
    def keep_alive_timeout(self) -> float: ...
    @property
    def max_app_queue_size(self) -> int: ...
    @property
    def read_timeout(self) -> float | None: ...
    @property
    def root_path(self) -> str: ...
    @property
    def server_names(self) -> list[str]: ...


__all__ = ["HTTP2Settings", "ProtocolSettings", "WebSocketSettings"]
