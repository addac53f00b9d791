"""Schedules feature: validation of configs and metadata, time math (triggers)."""
