"""The browser console: server-rendered pages over the API (see docs/console.md)."""
