"""The pure schedule domain: zones and DST, definitions, run options, triggers, descriptions
and lifecycle rules. It imports only `app.core` and third-party libraries (no ORM, no HTTP)."""
