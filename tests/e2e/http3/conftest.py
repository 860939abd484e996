"""One real ``hypercorn`` serving HTTP/3 per backend per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.http3._support import H3Server, h3_server
from tests.helpers.backends import BACKENDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[H3Server]:
    """``hypercorn -k BACKEND --certfile … -b 127.0.0.1:0 --quic-bind 127.0.0.1:0``."""
    directory = tmp_path_factory.mktemp(f"h3-{request.param}")
    with h3_server(directory, str(request.param)) as running:
        yield running
