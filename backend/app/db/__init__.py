"""Database access: URLs, the async engine and sessions, the embedded dev/test server."""
