"""What newsbot posts and keeps current in Slack: digests, reports, gap alerts,
and the Redrawer that redraws article messages after each decision.
"""
