"""Users feature: registration and the current user."""
