"""The training engine: one Accelerate loop for teacher fine-tuning and every method."""
