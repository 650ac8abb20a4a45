"""newsbot: configuration, command line, the newsroom domain and the wiring of the app."""
