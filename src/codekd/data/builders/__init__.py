"""Dataset builders: mine task datasets from real code on this machine (no download needed)."""
