"""The TLS material of the HTTP/3 tests (the fixture lives with the endpoint's tests)."""

import pytest

pytest.importorskip("aioquic")

from tests.protocol.http3.test_endpoint import tls  # noqa: F401
