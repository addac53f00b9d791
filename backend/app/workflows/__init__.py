"""Workflows feature: a user's workflows (the graph editing API comes later)."""
