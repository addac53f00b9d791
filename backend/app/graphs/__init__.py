"""The workflow graph domain: what a node, a tool or an agent may be configured with, the one
expression language, and the rules a graph obeys to run (docs: runtime.md). Pure: no
database, no HTTP; the graph API and the runtime both build on it."""
