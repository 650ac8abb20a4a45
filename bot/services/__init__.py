"""The services that do IO around the rules: the intake of decisions, sync, the
scheduler, the index refresh, health and metrics. No Slack.
"""
