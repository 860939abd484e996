"""The HPACK codec against the ``hpack`` package as the reference implementation."""

from __future__ import annotations

import hpack
import pytest
from hpack.exceptions import (
    HPACKDecodingError,
    InvalidTableIndex,
    InvalidTableSizeError,
    OversizedHeaderListError,
)
from hypothesis import given, settings, strategies as st

from hypercorn_protocol.http2.hpack import Decoder, Encoder

# Names mix static-table names, pseudo-headers and arbitrary tokens, so every
# representation (static index, dynamic index, indexed name, literal name) occurs.
names = st.one_of(
    st.sampled_from(
        [
            b":status",
            b":path",
            b"content-type",
            b"content-length",
            b"date",
            b"server",
            b"cookie",
            b"set-cookie",
            b"authorization",
            b"accept-encoding",
            b"x-trace",
        ]
    ),
    st.binary(min_size=1, max_size=40),
)
values = st.one_of(
    st.sampled_from([b"", b"200", b"404", b"/", b"gzip, deflate", b"text/plain"]),
    st.binary(max_size=300),
)
blocks = st.lists(st.lists(st.tuples(names, values), max_size=12), min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(blocks, st.lists(st.sampled_from([0, 64, 256, 4096, 65536]), max_size=3))
def test_our_encoder_is_understood_by_the_reference(
    block_list: list[list[tuple[bytes, bytes]]], sizes: list[int]
) -> None:
    encoder, reference = Encoder(), hpack.Decoder(max_header_list_size=1 << 30)
    reference.max_allowed_table_size = 65536
    for number, block in enumerate(block_list):
        if number < len(sizes):
            encoder.header_table_size = sizes[number]  # the peer changed its setting
        assert [tuple(f) for f in reference.decode(encoder.encode(block), raw=True)] == block
        assert reference.header_table_size <= 4096  # never more table than the default


@settings(max_examples=300, deadline=None)
@given(blocks, st.lists(st.sampled_from([0, 100, 256, 4096]), max_size=3), st.booleans())
def test_our_decoder_understands_the_reference(
    block_list: list[list[tuple[bytes, bytes]]], sizes: list[int], huffman: bool
) -> None:
    reference, decoder = hpack.Encoder(), Decoder(max_header_list_size=1 << 30)
    for number, block in enumerate(block_list):
        if number < len(sizes):
            reference.header_table_size = sizes[number]
        assert decoder.decode(reference.encode(block, huffman=huffman)) == block


def test_repeated_fields_become_one_byte_indexes() -> None:
    encoder = Encoder()
    fields = [(b":status", b"200"), (b"server", b"hypercorn"), (b"content-length", b"13")]
    first = encoder.encode(fields)
    again = encoder.encode(fields)
    assert len(again) == 3 < len(first)
    assert hpack.Decoder().decode(first + again, raw=True) == fields * 2


def test_credentials_are_never_indexed() -> None:
    encoder, reference = Encoder(), hpack.Decoder()
    for _ in range(2):
        (field,) = reference.decode(encoder.encode([(b"set-cookie", b"id=secret")]), raw=True)
        assert isinstance(field, hpack.NeverIndexedHeaderTuple)
    assert not reference.header_table.dynamic_entries


def test_encoder_table_stays_bounded() -> None:
    encoder, reference = Encoder(), hpack.Decoder()
    for n in range(5000):
        block = [(b"x-unique", b"%d" % n), (b"etag", b"v%d" % (n % 7))]
        assert reference.decode(encoder.encode(block), raw=True) == block
    assert encoder._size <= 4096
    assert len(encoder._by_field) == len(encoder._entries)


def test_decoder_table_follows_size_updates() -> None:
    reference, decoder = hpack.Encoder(), Decoder()
    decoder.decode(reference.encode([(b"x-a", b"1" * 100)]))
    reference.header_table_size = 0  # evicts everything, signalled in the next block
    assert decoder.decode(reference.encode([(b"x-b", b"2")])) == [(b"x-b", b"2")]
    assert decoder.header_table_size == 0
    assert not decoder._table


@pytest.mark.parametrize(
    ("block", "error"),
    [
        (b"\x80", InvalidTableIndex),  # index 0
        (b"\xbe", InvalidTableIndex),  # index 62, dynamic table empty
        (b"\xff\x80\x80\x80\x80\x80\x01", HPACKDecodingError),  # integer far too long
        (b"\xff", HPACKDecodingError),  # integer cut short
        (b"\x40\x05ab", HPACKDecodingError),  # name literal cut short
        (b"\x00\x01a\x85abc", HPACKDecodingError),  # value literal cut short
        (b"\x00\x01a\x81\xff", HPACKDecodingError),  # Huffman string that is only padding
        (b"\x3f\xe2\x1f", InvalidTableSizeError),  # size update to 4097
        (b"\x82\x20", HPACKDecodingError),  # size update after a field
    ],
)
def test_malformed_blocks_raise_hpack_errors(block: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Decoder().decode(block)


def test_oversized_header_list_is_refused() -> None:
    block = hpack.Encoder().encode([(b"x", b"y" * 100)] * 10)
    with pytest.raises(OversizedHeaderListError):
        Decoder(max_header_list_size=1000).decode(block)
    # an indexed field repeated is just as big once decoded (the HPACK bomb)
    reference = hpack.Encoder()
    bomb = reference.encode([(b"x", b"y" * 1000)]) + reference.encode([(b"x", b"y" * 1000)] * 200)
    with pytest.raises(OversizedHeaderListError):
        Decoder(max_header_list_size=65536).decode(bomb)
