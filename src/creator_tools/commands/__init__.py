"""One module per command; each exports `cli` for `cs-<verb>`."""
