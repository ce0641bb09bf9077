"""pibench hmi package."""
