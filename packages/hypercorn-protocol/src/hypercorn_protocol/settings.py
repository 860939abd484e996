"""The read-only view of configuration that the protocol core depends on.

``hypercorn_protocol.config.Config`` satisfies it; a custom server may pass any
object with these attributes (a frozen dataclass, say) instead.
"""

from __future__ import annotations

from typing import Protocol


class ProtocolSettings(Protocol):
    """Settings read by :class:`~hypercorn_protocol.ServerConnection`."""

    @property
    def alt_svc_headers(self) -> list[str]: ...
    @property
    def h11_max_incomplete_size(self) -> int: ...
    @property
    def h11_pass_raw_headers(self) -> bool: ...
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


class WebSocketSettings(Protocol):
    """Settings read when a WebSocket opens; an object without them gets the defaults.

    ``websocket_max_message_size`` (16 MiB), ``websocket_ping_interval`` (None: no
    pings), ``websocket_pong_timeout`` (20 s) and ``websocket_compression`` (True).
    They are read only when a WebSocket is upgraded, so a minimal settings object
    that serves plain HTTP keeps working.
    """

    @property
    def websocket_compression(self) -> bool: ...
    @property
    def websocket_max_message_size(self) -> int: ...
    @property
    def websocket_ping_interval(self) -> float | None: ...
    @property
    def websocket_pong_timeout(self) -> float | None: ...
