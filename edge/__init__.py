"""pibench edge package."""
