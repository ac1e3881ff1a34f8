"""The web app: server-rendered pages, a JSON API shaped like Hugging Face's, Atom feeds (issue #4).

Build it with `papertrend.web.app.create_app(settings)`; serve it with `run_server(settings, host, port)`.
"""
