"""One place for configuration: the settings file, the environment and flags,
all checked before anything runs.
"""
