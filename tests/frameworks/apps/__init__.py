"""Applications written with real frameworks, served by the real ``hypercorn`` command.

They run in the server's worker process, so they share state with the tests only through
``STATE_DIR`` (an environment variable naming a directory) and their own HTTP endpoints.
"""
