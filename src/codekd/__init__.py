"""codekd."""
