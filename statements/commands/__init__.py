"""The ``commonpurse`` commands that print or write them (registered as entry points)."""
