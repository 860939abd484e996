"""HTTP/2 on h2: the connection (stream model mapping), send scheduling, field checks, HPACK."""
