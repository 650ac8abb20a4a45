"""The running bot: the one runtime, `newsbot serve`, the Slack client factory and
the web server.
"""
