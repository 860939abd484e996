"""The ``tls`` extension's dict, built from a driver's facts (no sockets: the facts are given)."""

from __future__ import annotations

import ssl

import pytest
import trustme
from cryptography import x509
from cryptography.x509.oid import NameOID

from hypercorn_protocol.asgi.tls import TLSFacts, der_to_pem, rfc4514_name, tls_extension


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "a,b",
        'quote"d',
        "plus+sign",
        "#leading hash",
        " leading space",
        "trailing ",
        "semi;colon",
        "less<more>",
        "back\\slash",
        "équipe",
    ],
)
def test_rfc4514_name_matches_cryptography(value: str) -> None:
    subject = ((("countryName", "FR"),), (("organizationName", "Org"),), (("commonName", value),))
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, value),
        ]
    )
    assert rfc4514_name(subject) == name.rfc4514_string()


def test_multi_valued_rdn() -> None:
    subject = (
        (("organizationName", "Org"),),
        (("commonName", "a"), ("userId", "b")),
    )
    assert rfc4514_name(subject) == "CN=a+UID=b,O=Org"


def test_der_to_pem_round_trips() -> None:
    cert = trustme.CA().issue_cert("example.org")
    pem = cert.cert_chain_pems[0].bytes().decode()
    der = ssl.PEM_cert_to_DER_cert(pem)
    assert der_to_pem(der) == pem.replace("\r\n", "\n")
    assert ssl.PEM_cert_to_DER_cert(der_to_pem(der)) == der


def test_extension_dict() -> None:
    facts = TLSFacts(
        version="TLSv1.2",
        cipher_suite=0xC02F,
        server_cert=None,
        client_chain=(b"\x30\x00",),
        client_subject=((("commonName", "alice"),),),
    )
    assert tls_extension(facts) == {
        "server_cert": None,
        "client_cert_chain": (der_to_pem(b"\x30\x00"),),
        "client_cert_name": "CN=alice",
        "client_cert_error": None,
        "tls_version": 0x0303,
        "cipher_suite": 0xC02F,
    }
    unknown = TLSFacts(version="DTLSv1.2", cipher_suite=None, server_cert=None)
    assert tls_extension(unknown)["tls_version"] is None
    assert tls_extension(unknown)["client_cert_chain"] == ()
