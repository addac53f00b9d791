"""Tools feature: what workflow nodes and agents call, with write-only, sealed auth."""
