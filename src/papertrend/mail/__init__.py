"""Mail: one interface, `send(message) -> delivery_id`, and its backends (issue #5).

`PAPERTREND_MAIL_URL` picks the backend:

- `smtp://user:pass@host:587` — SMTP with STARTTLS. STARTTLS is required when credentials are given
  (a password never crosses the network in clear) and used when offered otherwise;
  `?starttls=required|opportunistic|off` overrides, `?cafile=PATH` trusts a private CA.
- `smtps://user:pass@host:465` — SMTP over TLS from the first byte.
- `maildir:///path` (or `maildir://./relative`) — each message a file in a Maildir, written with the
  `mailbox` module: the default for a single machine, browsable at /_mailbox.
- `console://` — print each message to standard output.

Failures are `SendError`s of three kinds: `temporary` (4xx replies, timeouts, a server that is down:
retry with backoff), `permanent` (5xx to RCPT or DATA: the recipient is refused; bounced after N),
and `fatal` (5xx to MAIL FROM, failed login, no STARTTLS: the configuration is wrong; stop the run).

Every backend writes a **journal** (`<data_dir>/mail-journal/YYYY-MM-DD.log`) the outbox reads after
a crash, three lines per message around its commit point (SMTP: the final "." of DATA; Maildir: the
move into `new/`): `P` just before it, `D` once it is done (the "." is in the kernel's socket buffer,
the file is in `new/`), and `R` with the server's reply. `D` is written only after the fact it
claims (issue #5: a `D` written before the "." once let a SIGKILL between the two lose a message).
See digest/outbox.py for the rule that turns these into "sent" or "send again".
"""
