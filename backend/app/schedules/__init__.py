"""Schedules feature: the HTTP API over the Schedule model (router -> service -> repository)."""
