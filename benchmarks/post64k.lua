-- wrk script for the `post` benchmark: every request is a POST of a 64 KiB body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("x", 64 * 1024)
