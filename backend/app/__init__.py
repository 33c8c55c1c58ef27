"""Backend of the real-time chat template."""
