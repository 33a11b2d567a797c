"""mlplab.models."""
