"""Reading a TLS connection's facts off Python's ``ssl`` for the ASGI ``tls`` extension.

Both drivers call :func:`read_tls_facts` once per connection, after the handshake, with
whatever object exposes the ``ssl`` API (asyncio's ``SSLObject``, trio's ``SSLStream``);
the core turns the facts into the scope's dict
(:func:`hypercorn_protocol.asgi.tls.tls_extension`).

What ``ssl`` can and cannot tell:

* the client's chain: Python 3.13 added ``get_unverified_chain()`` (the certificates
  the client sent, its own first); before 3.13 only the client's own certificate is
  available (``getpeercert(binary_form=True)``), so ``client_cert_chain`` holds that
  one. Either way the chain is reported only once ``ssl`` verified it
  (``verify_mode`` CERT_OPTIONAL or CERT_REQUIRED): with CERT_NONE no certificate is
  asked for.
* the server's own certificate: ``ssl`` does not return it, so it is the first
  certificate of ``certfile`` (read once per file and process).
* the cipher suite's IANA number: the low 16 bits of the ``id`` OpenSSL gives each
  cipher in ``SSLContext.get_ciphers()``, looked up by name.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import TYPE_CHECKING, Any

from hypercorn_protocol.asgi.tls import Subject, TLSFacts

if TYPE_CHECKING:
    import ssl  # type-only: the core imports no socket module (ssl imports socket)

# OpenSSL cipher name -> IANA number; the names are OpenSSL's, so one table serves
# every context (bounded by the number of ciphers OpenSSL knows).
_CIPHER_IDS: dict[str, int] = {}


@functools.lru_cache(maxsize=16)
def server_certificate(certfile: str | None) -> bytes | None:
    """The first certificate of ``certfile``, DER; None when there is none to read."""
    if not certfile:
        return None
    try:
        with open(certfile, encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError:
        return None
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin == -1 or end == -1:
        return None
    body = text[begin + len("-----BEGIN CERTIFICATE-----") : end]
    try:
        return base64.b64decode("".join(body.split()), validate=True)  # PEM is base64 DER
    except (ValueError, binascii.Error):
        return None


def _cipher_suite(tls: Any, name: str | None) -> int | None:
    if name is None:
        return None
    suite = _CIPHER_IDS.get(name)
    if suite is None:
        context: ssl.SSLContext | None = getattr(tls, "context", None)
        if context is None:
            return None
        for cipher in context.get_ciphers():
            _CIPHER_IDS[cipher["name"]] = cipher["id"] & 0xFFFF
        suite = _CIPHER_IDS.get(name)
    return suite


def _client_chain(tls: Any) -> tuple[bytes, ...]:
    unverified_chain = getattr(tls, "get_unverified_chain", None)  # Python 3.13+
    if unverified_chain is not None:
        return tuple(unverified_chain() or ())  # DER bytes, the client's own first
    leaf = tls.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()


def read_tls_facts(tls: Any, certfile: str | None) -> TLSFacts:
    """The facts of a TLS connection whose handshake is done.

    Args:
        tls: an ``ssl.SSLObject``, ``ssl.SSLSocket`` or ``trio.SSLStream``.
        certfile: the configured certificate file (the server's certificate).
    """
    cipher = tls.cipher()
    verified: dict[str, Any] = tls.getpeercert() or {}  # empty unless verified
    subject: Subject | None = verified.get("subject")
    return TLSFacts(
        version=tls.version(),
        cipher_suite=_cipher_suite(tls, cipher[0] if cipher else None),
        server_cert=server_certificate(certfile),
        client_chain=_client_chain(tls) if subject is not None else (),
        client_subject=subject,
    )


__all__ = ["read_tls_facts", "server_certificate"]
