"""``run(config)``: serve ``config.application_path`` in-process or with worker processes.

Order of start-up, chosen so that a mistake fails before anything is bound or spawned:
the worker class and the TLS certificate and key (loaded into a context) are checked,
systemd socket-activated descriptors are taken as binds, the sockets are bound (once,
here), the pid file is written; then either this process serves (``workers = 0``) or
the supervisor (``_supervisor``) runs the worker processes. On the way out the pid file
is removed and the sockets are closed.

Where the application is imported: in the process that serves it. With ``workers = 0``
that is this one (before the sockets are bound, so a bad path binds nothing); with
workers, only the workers import it: a worker that cannot reports the one-line error
before it is ready, and the supervisor stops with it (``WorkerStartupError``, exit code
2, no retry). The supervisor of a large application would otherwise hold tens of MiB
of modules it never runs. ``--reload`` is the exception, as in Hypercorn 0.18: the
supervisor imports the application to learn which files to watch.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from hypercorn_cli._activation import activated_fds, apply_socket_activation
from hypercorn_cli._pidfile import remove_pid_file, write_pid_file
from hypercorn_cli._privileges import chown_unix_sockets
from hypercorn_cli._supervisor import Reloader, Supervisor, close_sockets, error_logger
from hypercorn_cli._workers import check_worker, resolve_worker
from hypercorn_protocol.config import Config, ConfigError, ConfigWarning
from hypercorn_protocol.server.binding import QUIC_NEEDS_UDP

if TYPE_CHECKING:
    # Type-only: each is imported where its feature is switched on.
    from hypercorn_protocol.server.metrics import SupervisorMetrics
    from hypercorn_protocol.worker import WorkerFunction


def run(config: Config, *, config_loader: Callable[[], Config] | None = None) -> int:
    """Serve ``config.application_path`` as the ``hypercorn`` command does.

    ``config.workers == 0`` serves in this process; otherwise that many worker
    processes share the sockets bound here (with ``config.reuse_port``, one
    ``SO_REUSEPORT`` socket per worker on Linux). With ``config.use_reloader`` and
    ``workers == 0``, one supervised worker runs, since reloading means replacing a
    process.

    Signals (workers >= 1): SIGINT/SIGTERM drain every worker and return 0; SIGHUP
    builds the configuration again with ``config_loader`` and replaces the workers one
    at a time; SIGUSR1 replaces them with the same configuration.

    Args:
        config: the server configuration; ``application_path`` must be set.
        config_loader: builds a fresh ``Config`` (the command line re-reads its config
            file and flags); used on SIGHUP.

    Returns:
        0 after a clean shutdown, else non-zero (restarted workers could not start, or
        a worker did not shut down cleanly).

    Raises:
        NoAppError: the application cannot be imported (``workers = 0`` or
            ``use_reloader``; otherwise the workers import it, and a worker that
            cannot is a ``WorkerStartupError`` with the same message and exit code 2).
        ConfigError: the TLS certificate or key cannot be loaded, ``quic_bind`` is
            set without TLS or is a unix socket, or ``metrics_bind`` is set without
            ``prometheus_client``.
        WorkerStartupError: a worker exited before it was ready (lifespan startup
            failed, ...); the server was stopped.
        LifespanFailureError: ``workers = 0`` and lifespan startup or shutdown failed.
        WorkerClassError: unknown worker class, or its backend is not installed.
        BindError: a bind address (or ``metrics_bind``) is in use or not permitted.
    """
    supervised = not (config.workers == 0 and not config.use_reloader)
    # A supervisor only checks that the backend is installed; its workers import it.
    worker = None if supervised else resolve_worker(config.worker_class)
    if supervised:
        check_worker(config.worker_class)
    log = error_logger(config)  # builds the loggers (handlers, levels) before anything logs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        _check_tls(config)
    _log_config_warnings(caught, log)
    metrics = None
    if config.metrics_bind is not None:
        from hypercorn_protocol.server.metrics import SupervisorMetrics, check_installed

        check_installed()
        if supervised:
            # Before the app is imported here: prometheus_client picks its storage then.
            metrics = SupervisorMetrics(config.metrics_bind)
            log.info("Serving metrics on %s", metrics.endpoint.url)
    try:
        return _run(config, worker, log, metrics, config_loader)
    finally:
        if metrics is not None:
            metrics.close()


def _run(
    config: Config,
    worker: WorkerFunction | None,
    log: logging.Logger,
    metrics: SupervisorMetrics | None,
    config_loader: Callable[[], Config] | None,
) -> int:
    _application_importable(config)
    if worker is not None or config.use_reloader:
        _import_application(config)
    apply_socket_activation(config, activated_fds())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        sockets = config.create_sockets()
    _log_config_warnings(caught, log)
    # Each was logged once; the worker (in this process with -w 0) checks the same config.
    warnings.filterwarnings("ignore", category=ConfigWarning)
    try:
        chown_unix_sockets(config, sockets)
        if config.pid_path is not None:
            write_pid_file(config.pid_path)
        try:
            if worker is not None:
                worker(config, sockets=sockets)
                return 0
            reloader = None
            if config.use_reloader:
                from hypercorn_protocol.server.reloading import (
                    SourceFilter,
                    app_root,
                    make_watcher,
                )

                if config.workers == 0:
                    log.info("--reload with 0 workers: serving from one worker process")
                root = app_root(config.application_path)
                sources = SourceFilter(root)
                watcher, method = make_watcher(root, sources)
                reloader = Reloader(watcher, sources)
                log.info("Watching %s for changes (%s)", root, method)
            supervisor = Supervisor(
                config, sockets, config_loader=config_loader, reloader=reloader, metrics=metrics
            )
            return supervisor.run()
        finally:
            if config.pid_path is not None:
                remove_pid_file(config.pid_path)
    finally:
        close_sockets(sockets)


def _log_config_warnings(caught: list[warnings.WarningMessage], log: logging.Logger) -> None:
    # e.g. insecure_bind without TLS: one log line each, no source line
    for warning in caught:
        log.warning("%s", warning.message)


def _check_tls(config: Config) -> None:
    # Workers would each fail the same way, after the sockets are bound: fail here.
    for bind in config.quic_bind:
        if bind.startswith("unix:"):  # fd:// ones are checked once adopted (create_sockets)
            raise ConfigError(f"--quic-bind {bind}: {QUIC_NEEDS_UDP}")
    if config.quic_bind and not config.ssl_enabled:
        raise ConfigError("--quic-bind requires --certfile and --keyfile (HTTP/3 is TLS only)")
    config.create_ssl_context()
    if config.quic_bind:
        from hypercorn_protocol.server.quic import build_quic_configuration

        try:
            build_quic_configuration(config)  # aioquic is installed and loads the certificate
        except ImportError as exc:
            raise ConfigError(str(exc)) from None


def _application_importable(config: Config) -> None:
    # The current directory is importable, as for ``python -m``; spawned workers
    # inherit this sys.path.
    cwd = os.getcwd()
    if sys.path[:1] != [cwd]:
        sys.path.insert(0, cwd)


def _import_application(config: Config) -> None:
    from hypercorn_protocol.apps.loading import load_application

    load_application(config.application_path, config.wsgi_max_body_size)
