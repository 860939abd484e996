"""The ASGI ``tls`` extension: ``scope["extensions"]["tls"]``, built once per connection.

A driver reads the facts off its TLS object after the handshake
(:func:`hypercorn_protocol.server.tls_facts.read_tls_facts` does it for the standard
``ssl`` module) and hands them in as a :class:`TLSFacts`; this module turns them into
the dict the ASGI TLS extension (version 0.2) specifies: certificates as PEM text, the
client's subject as an RFC 4514 string, the protocol version and cipher suite as
their IANA numbers. Plain TCP connections get no ``tls`` key at all, as the spec says.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

#: The wire numbers of the versions Python's ``ssl`` reports (``SSLObject.version()``).
TLS_VERSIONS: Final = {
    "TLSv1.3": 0x0304,
    "TLSv1.2": 0x0303,
    "TLSv1.1": 0x0302,
    "TLSv1": 0x0301,
    "SSLv3": 0x0300,
}

#: RFC 4514 section 3's short names, keyed by the long names ``getpeercert()`` uses.
_SHORT_NAMES: Final = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}

# A subject as ``ssl.SSLSocket.getpeercert()["subject"]`` gives it: RDNs, most
# significant first, each a tuple of (attribute name, value) pairs.
Subject = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True, slots=True)
class TLSFacts:
    """What the driver's TLS object says about one connection, after the handshake.

    Attributes:
        version: the protocol version as ``ssl`` names it (``"TLSv1.3"``), or None.
        cipher_suite: the IANA number of the negotiated cipher suite, or None.
        server_cert: the DER certificate this server presented, or None if unknown.
        client_chain: the client's DER certificates, its own first; empty when it sent
            none (or when client certificates are not asked for).
        client_subject: the client certificate's subject (``getpeercert()`` form), or None.
    """

    version: str | None
    cipher_suite: int | None
    server_cert: bytes | None
    client_chain: tuple[bytes, ...] = ()
    client_subject: Subject | None = None


def der_to_pem(der: bytes) -> str:
    """One certificate, DER to PEM text (RFC 7468: base64 in 64-column lines)."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _escape_value(value: str) -> str:
    # RFC 4514 section 2.4: special characters anywhere, a leading '#' or space, a
    # trailing space.
    escaped = "".join("\\" + char if char in ',+"\\<>;=' else char for char in value)
    escaped = escaped.replace("\x00", "\\00")
    if escaped[:1] in ("#", " "):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def rfc4514_name(subject: Iterable[Iterable[tuple[str, str]]]) -> str:
    """A distinguished name as an RFC 4514 string (least significant RDN first).

    Attribute types without a short name in RFC 4514 keep the name ``ssl`` gave them
    (``emailAddress``, ``serialNumber``): ``ssl`` does not expose their OIDs.
    """
    rdns = [
        "+".join(f"{_SHORT_NAMES.get(name, name)}={_escape_value(value)}" for name, value in rdn)
        for rdn in subject
    ]
    return ",".join(reversed(rdns))


def tls_extension(facts: TLSFacts) -> dict[str, Any]:
    """The ``tls`` extension's dict for a connection with these facts."""
    chain = tuple(der_to_pem(der) for der in facts.client_chain)
    subject = facts.client_subject
    return {
        "server_cert": der_to_pem(facts.server_cert) if facts.server_cert is not None else None,
        "client_cert_chain": chain,
        "client_cert_name": rfc4514_name(subject) if subject is not None else None,
        # A client certificate that fails verification fails the handshake (ssl gives no
        # way to go on regardless), so a connection that got this far has no error.
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(facts.version or ""),
        "cipher_suite": facts.cipher_suite,
    }


__all__ = ["TLS_VERSIONS", "TLSFacts", "der_to_pem", "rfc4514_name", "tls_extension"]
