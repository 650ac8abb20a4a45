"""Slack-facing code: Bolt listeners and Block Kit rendering."""
