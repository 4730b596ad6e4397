"""cs-stats internals: the store (SQLite/PostgreSQL), pull, report, recommend and plots."""
