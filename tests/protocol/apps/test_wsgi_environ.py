"""The PEP 3333 environ built from an ASGI scope, and request-body buffering."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from hypercorn_protocol.apps.wsgi import RequestBodyReader, build_environ, empty_response
from tests.helpers.apps.scopes import http_scope


def test_basic_keys() -> None:
    scope = http_scope(
        method="POST",
        path="/items/1",
        query_string=b"a=1&b=%20",
        http_version="1.1",
        headers=[(b"host", b"example.com:8000"), (b"content-type", b"text/plain")],
    )
    environ = build_environ(scope, b"hello")
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/items/1"
    assert environ["QUERY_STRING"] == "a=1&b=%20"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == "8000"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["REMOTE_PORT"] == "50000"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "5"
    assert environ["HTTP_HOST"] == "example.com:8000"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ


def test_wsgi_keys() -> None:
    environ = build_environ(http_scope(scheme="https"), b"body")
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["wsgi.input"].read() == b"body"
    assert environ["wsgi.errors"] is sys.stderr
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is True
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.input_terminated"] is True


def test_every_value_is_a_native_string_where_pep_3333_says_so() -> None:
    environ = build_environ(http_scope(headers=[(b"x-a", b"1")]), b"")
    for key, value in environ.items():
        if key.isupper():
            assert type(value) is str, key


def test_server_port_and_remote_port_are_strings() -> None:
    environ = build_environ(http_scope(server=("::1", 443), client=("::1", 1234)), b"")
    assert environ["SERVER_PORT"] == "443"
    assert environ["REMOTE_PORT"] == "1234"
    assert environ["SERVER_NAME"] == "::1"
    assert environ["REMOTE_ADDR"] == "::1"


@pytest.mark.parametrize(
    ("root_path", "path", "script_name", "path_info"),
    [
        ("/app", "/app/users", "/app", "/users"),
        ("/app", "/app", "/app", ""),
        ("/app/", "/app/users", "/app", "/users"),
        # "/application" is not below "/app": split only at a segment boundary.
        ("/app", "/application", "/app", "/application"),
        # A proxy that strips the prefix sends the relative path.
        ("/app", "/users", "/app", "/users"),
        ("", "/users", "", "/users"),
    ],
)
def test_root_path_split(root_path: str, path: str, script_name: str, path_info: str) -> None:
    environ = build_environ(http_scope(root_path=root_path, path=path), b"")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script_name, path_info)


def test_path_is_utf8_bytes_as_latin1() -> None:
    environ = build_environ(http_scope(root_path="/caf\u00e9", path="/caf\u00e9/\u20ac"), b"")
    assert environ["SCRIPT_NAME"] == "/caf\u00c3\u00a9"
    assert environ["PATH_INFO"] == "/\u00e2\u0082\u00ac"
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/\u20ac"


def test_query_string_and_header_values_are_latin1() -> None:
    scope = http_scope(query_string=b"q=\xe9", headers=[(b"x-name", b"caf\xe9")])
    environ = build_environ(scope, b"")
    assert environ["QUERY_STRING"] == "q=\u00e9"
    assert environ["HTTP_X_NAME"] == "caf\u00e9"


def test_duplicate_headers_are_joined() -> None:
    headers = [
        (b"host", b"example.com"),
        (b"accept", b"text/html"),
        (b"accept", b"application/json"),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
        (b"x-forwarded-for", b"10.0.0.1"),
        (b"x-forwarded-for", b"10.0.0.2"),
    ]
    environ = build_environ(http_scope(headers=headers), b"")
    assert environ["HTTP_ACCEPT"] == "text/html,application/json"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1,10.0.0.2"


def test_header_names_with_underscores_cannot_spoof_dashed_ones() -> None:
    headers = [(b"x-forwarded-for", b"10.0.0.1"), (b"x_forwarded_for", b"6.6.6.6")]
    environ = build_environ(http_scope(headers=headers), b"")
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"


def test_content_length_is_the_buffered_body_length() -> None:
    # Chunked HTTP/1.1 and HTTP/2 requests may carry no content-length header.
    environ = build_environ(http_scope(method="POST", headers=[]), b"abc")
    assert environ["CONTENT_LENGTH"] == "3"
    environ = build_environ(http_scope(headers=[(b"content-length", b"0")]), b"")
    assert environ["CONTENT_LENGTH"] == "0"
    environ = build_environ(http_scope(), b"")
    assert "CONTENT_LENGTH" not in environ
    assert "CONTENT_TYPE" not in environ


def test_http2_server_protocol() -> None:
    assert build_environ(http_scope(http_version="2"), b"")["SERVER_PROTOCOL"] == "HTTP/2"


@pytest.mark.parametrize(
    ("headers", "scheme", "name", "port"),
    [
        ([(b"host", b"example.com:8080")], "http", "example.com", "8080"),
        ([(b"host", b"example.com")], "http", "example.com", "80"),
        ([(b"host", b"example.com")], "https", "example.com", "443"),
        ([(b"host", b"[::1]:9000")], "http", "[::1]", "9000"),
        ([(b"host", b"[::1]")], "https", "[::1]", "443"),
        ([], "http", "localhost", "80"),
    ],
)
def test_unix_socket_scope(headers: list[Any], scheme: str, name: str, port: str) -> None:
    scope = http_scope(client=None, server=None, headers=headers, scheme=scheme)
    environ = build_environ(scope, b"")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == (name, port)
    assert environ["REMOTE_ADDR"] == ""
    assert "REMOTE_PORT" not in environ


def test_unix_socket_server_path_tuple() -> None:
    scope = http_scope(server=("/run/app.sock", None), headers=[(b"host", b"app.local")])
    environ = build_environ(scope, b"")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("app.local", "80")


# --------------------------------------------------------------------------- body reader


def test_body_reader_collects_chunks() -> None:
    reader = RequestBodyReader(http_scope(), 10)
    reader.feed({"type": "http.request", "body": b"abc", "more_body": True})
    assert not reader.done
    reader.feed({"type": "http.request", "body": b"def", "more_body": False})
    assert (reader.done, reader.complete, reader.body) == (True, True, b"abcdef")


def test_body_reader_limit_is_inclusive() -> None:
    reader = RequestBodyReader(http_scope(), 6)
    reader.feed({"type": "http.request", "body": b"abcdef"})
    assert reader.complete
    assert not reader.too_large
    reader = RequestBodyReader(http_scope(), 5)
    reader.feed({"type": "http.request", "body": b"abc", "more_body": True})
    reader.feed({"type": "http.request", "body": b"def", "more_body": True})
    assert reader.too_large
    assert reader.done
    assert not reader.complete


def test_body_reader_declared_length_over_limit() -> None:
    reader = RequestBodyReader(http_scope(headers=[(b"content-length", b"11")]), 10)
    assert reader.too_large
    assert reader.done


def test_body_reader_disconnect() -> None:
    reader = RequestBodyReader(http_scope(), 10)
    reader.feed({"type": "http.request", "body": b"ab", "more_body": True})
    reader.feed({"type": "http.disconnect"})
    assert reader.disconnected
    assert reader.done
    assert not reader.complete


def test_empty_response() -> None:
    start, body = empty_response(413)
    assert start == {
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-length", b"0")],
    }
    assert body == {"type": "http.response.body", "body": b"", "more_body": False}
