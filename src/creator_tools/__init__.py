"""creator-tools: topic to published YouTube video through Unix pipes of JSON Lines."""

__version__ = "0.1.0"
