"""The newsroom's rules and their tables: articles, digests, decisions, stories,
schedules. No Slack, no threads: each is a plain function over the Store.
"""
