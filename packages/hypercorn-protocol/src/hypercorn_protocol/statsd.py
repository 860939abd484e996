"""``hypercorn_protocol.statsd``: the documented path of the StatsD logger.

The implementation lives in ``hypercorn_protocol.server.statsd``;
this module only re-exports its names.
"""

from hypercorn_protocol.server.statsd import (
    COUNTER_TYPE as COUNTER_TYPE,
    GAUGE_TYPE as GAUGE_TYPE,
    HISTOGRAM_TYPE as HISTOGRAM_TYPE,
    METRIC_VAR as METRIC_VAR,
    MTYPE_VAR as MTYPE_VAR,
    STATSD_DEFAULT_PORT as STATSD_DEFAULT_PORT,
    VALUE_VAR as VALUE_VAR,
    StatsdLogger as StatsdLogger,
    StatsdSocket as StatsdSocket,
    split_statsd_address as split_statsd_address,
)

__all__ = [
    "COUNTER_TYPE",
    "GAUGE_TYPE",
    "HISTOGRAM_TYPE",
    "METRIC_VAR",
    "MTYPE_VAR",
    "STATSD_DEFAULT_PORT",
    "StatsdLogger",
    "StatsdSocket",
    "VALUE_VAR",
    "split_statsd_address",
]
