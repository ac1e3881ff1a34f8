"""The web app: server-rendered pages, a JSON API shaped like Hugging Face's, Atom feeds (issue #4).

Build it with `papertrend.web.app.create_app(settings)`; `papertrend serve` serves it (web/server.py).
"""
