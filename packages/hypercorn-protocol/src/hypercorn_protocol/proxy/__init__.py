"""The PROXY protocol (HAProxy's, versions 1 and 2): a sans-IO header parser and the
``proxy_allow_ips`` trust decision. Drivers read the header before TLS and HTTP; see
``docs/proxy-protocol.md``.
"""

from __future__ import annotations

from hypercorn_protocol.proxy.header import (
    DEFAULT_MAX_V2_LENGTH,
    V1_MAX_LENGTH,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    ProxyHeaderParser,
)
from hypercorn_protocol.proxy.preamble import (
    PROXY_REFUSALS,
    ProxyAccepted,
    ProxyPreamble,
    ProxyRefused,
)
from hypercorn_protocol.proxy.trust import (
    DEFAULT_PROXY_ALLOW_IPS,
    TrustedProxies,
    is_trusted_proxy,
)

__all__ = [
    "DEFAULT_MAX_V2_LENGTH",
    "DEFAULT_PROXY_ALLOW_IPS",
    "PROXY_REFUSALS",
    "V1_MAX_LENGTH",
    "V2_SIGNATURE",
    "ProxyAccepted",
    "ProxyHeader",
    "ProxyHeaderError",
    "ProxyHeaderParser",
    "ProxyPreamble",
    "ProxyRefused",
    "TrustedProxies",
    "is_trusted_proxy",
]
