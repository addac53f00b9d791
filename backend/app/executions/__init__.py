"""Executions: run a workflow now, read runs with their node runs and logs, cancel."""
