"""The core: files, database, caches, config, HTTP and child processes, written once.

Nothing here imports click or any creator_tools module above `core` (a contract test holds this):
every command, engine and media module builds on these pieces instead of keeping its own copy.
"""
