"""Cross-cutting pieces: settings, logging, errors."""
