"""pibench drivers package."""
