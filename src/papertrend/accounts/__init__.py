"""Accounts (issue #4, part 2): passwordless email sign-in with magic links, and sessions.

- `tokens` — pure functions: issuing a login token, checking it is still usable, safe `next=` paths.
- `repository` — all SQL of users, login tokens and sessions; never commits (DESIGN §6.1).
- `service` — what the web routes and the CLI call, keyword-only, taking the caller's connection.
"""
