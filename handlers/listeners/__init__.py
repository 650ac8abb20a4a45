"""Bolt listeners: `/news`, reactions, buttons and the Home tab, each registered
with `register(app, ...)`.
"""
