"""Per-test example counts that yield to the ``long`` profile (see conftest.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz_settings(max_examples: int) -> settings:
    """``max_examples`` in the normal suite; the profile's own count under ``long``.

    An explicit ``max_examples`` on a test would override any profile, so it is only
    set when the long profile is not the one loaded.
    """
    health = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    if settings.get_current_profile_name() == "long":
        return settings(deadline=None, suppress_health_check=health)
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=health)
