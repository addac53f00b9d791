"""Agents feature: LLM-backed steps, their model configuration and the tools they may use."""
