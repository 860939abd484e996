"""Hypothesis profiles for the fuzz tests.

The normal suite runs each fuzz test with a moderate number of examples (the whole of
``tests/fuzz`` in well under a minute). ``--hypothesis-profile=long`` (the ``fuzz``
hatch env: ``hatch run fuzz:long``) runs 20,000 examples per test with no deadline,
for nightly use. The profile is registered here, so pass ``tests/fuzz`` (or a file in
it) on the command line for pytest to load this file before it reads the option.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "long",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
