"""The pipe contract split by concern (stage, driver, outputs, metrics, cli); `creator_tools.pipe` re-exports
the public names. Only cli.py imports click."""
