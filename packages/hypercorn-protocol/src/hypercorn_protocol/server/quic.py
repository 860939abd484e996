"""Build aioquic's server ``QuicConfiguration`` from a ``Config``. This module READS FILES.

aioquic loads the certificate chain, the private key and the CA file itself, so building
the configuration is file I/O and does not belong to the sans-IO endpoint, which takes a
ready ``QuicConfiguration``: it lives with the other I/O helpers in ``server/``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from hypercorn_protocol.http3.endpoint import _import_aioquic
from hypercorn_protocol.server.config_files import ConfigError, ConfigWarning

if TYPE_CHECKING:
    from aioquic.quic.configuration import QuicConfiguration

    from hypercorn_protocol.config import Config

__all__ = ["build_quic_configuration"]

# ssl.CERT_OPTIONAL / ssl.CERT_REQUIRED, compared as ints so that ssl need not be imported.
_CERT_OPTIONAL = 1
_CERT_REQUIRED = 2


def build_quic_configuration(config: Config) -> QuicConfiguration:
    """A server ``QuicConfiguration`` for HTTP/3 with the config's certificate.

    Reads ``certfile``, ``keyfile`` (decrypted with ``keyfile_password``, which Hypercorn
    0.18 ignored for QUIC) and ``ca_certs``. ALPN is HTTP/3's (``h3``), whatever
    ``alpn_protocols`` (a TCP setting) says; the transport idle timeout is
    ``quic_idle_timeout``.

    Raises:
        ConfigError: TLS is not configured (QUIC cannot run without it), a file cannot be
            read, or ``verify_mode`` is ``CERT_REQUIRED``: aioquic's server never asks for
            a client certificate, so HTTP/3 would let clients in that TCP turns away.
    """
    _import_aioquic()
    from aioquic.h3.connection import H3_ALPN
    from aioquic.quic.configuration import QuicConfiguration

    if config.certfile is None or config.keyfile is None:
        raise ConfigError("HTTP/3 (quic_bind) needs TLS: set certfile and keyfile")
    verify_mode = None if config.verify_mode is None else int(config.verify_mode)
    if verify_mode == _CERT_REQUIRED:
        raise ConfigError(
            "verify_mode CERT_REQUIRED cannot be enforced over HTTP/3 (aioquic does not "
            "request client certificates): remove quic_bind or verify_mode"
        )
    if verify_mode == _CERT_OPTIONAL:
        warnings.warn(
            "verify_mode CERT_OPTIONAL has no effect over HTTP/3: no client certificate "
            "is requested",
            ConfigWarning,
            stacklevel=2,
        )

    configuration = QuicConfiguration(
        is_client=False,
        alpn_protocols=list(H3_ALPN),
        idle_timeout=config.quic_idle_timeout,
    )
    try:
        configuration.load_cert_chain(
            config.certfile, config.keyfile, password=config.keyfile_password
        )
        if config.ca_certs is not None:
            configuration.load_verify_locations(cafile=config.ca_certs)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot load the TLS certificate for HTTP/3: {exc}") from exc
    return configuration
