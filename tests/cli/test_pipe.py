"""The supervisor's message pipe (``hypercorn_cli._pipe``) over real OS pipes."""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterator

import pytest

from hypercorn_cli._pipe import MAX_MESSAGE, Channel, wait


@pytest.fixture
def pipe() -> Iterator[tuple[Channel, Channel]]:
    read_fd, write_fd = os.pipe()
    reader, writer = Channel(read_fd), Channel(write_fd)
    yield reader, writer
    reader.close()
    writer.close()


def test_messages_arrive_whole_and_in_order(pipe: tuple[Channel, Channel]) -> None:
    reader, writer = pipe
    assert not reader.poll()
    writer.send("ready")
    writer.send(("failed", 2, "Error: x" * 1000))  # over PIPE_BUF: written in parts

    assert reader.poll()
    assert reader.recv() == "ready"
    assert reader.recv() == ("failed", 2, "Error: x" * 1000)
    assert not reader.poll()


def test_a_message_larger_than_the_pipe_buffer_is_read_while_written(
    pipe: tuple[Channel, Channel],
) -> None:
    reader, writer = pipe
    big = b"x" * (256 * 1024)  # the writer blocks until the reader drains the pipe
    sender = threading.Thread(target=writer.send, args=(big,))
    sender.start()
    assert reader.recv() == big
    sender.join(timeout=30)
    assert not sender.is_alive()


def test_end_of_file_is_eof_error(pipe: tuple[Channel, Channel]) -> None:
    reader, writer = pipe
    writer.close()
    assert reader.poll()  # EOF counts as readable, as the supervisor's loop expects
    with pytest.raises(EOFError):
        reader.recv()


def test_half_a_message_then_eof_is_eof_error(pipe: tuple[Channel, Channel]) -> None:
    reader, writer = pipe
    os.write(writer.fileno(), struct.pack(">I", 10) + b"abc")
    writer.close()
    with pytest.raises(EOFError):
        reader.recv()


def test_an_oversized_announcement_is_refused_without_reading_it(
    pipe: tuple[Channel, Channel],
) -> None:
    reader, writer = pipe
    os.write(writer.fileno(), struct.pack(">I", MAX_MESSAGE + 1))
    with pytest.raises(EOFError, match="at most"):
        reader.recv()


def test_sending_to_a_closed_reader_is_broken_pipe(pipe: tuple[Channel, Channel]) -> None:
    reader, writer = pipe
    reader.close()
    with pytest.raises(BrokenPipeError):
        writer.send("ready")


def test_wait_returns_the_readable_ones_and_times_out(pipe: tuple[Channel, Channel]) -> None:
    reader, writer = pipe
    other_read, other_write = os.pipe()
    try:
        assert wait([reader, other_read], 0.01) == []
        os.write(other_write, b"!")
        assert wait([reader, other_read], 5) == [other_read]
        writer.send(1)
        assert set(map(id, wait([reader, other_read], 5))) == {id(reader), id(other_read)}
    finally:
        os.close(other_read)
        os.close(other_write)


def test_a_closed_channel_says_so(pipe: tuple[Channel, Channel]) -> None:
    reader, _ = pipe
    reader.close()
    reader.close()  # idempotent
    assert reader.closed
    with pytest.raises(OSError, match="closed"):
        reader.fileno()
