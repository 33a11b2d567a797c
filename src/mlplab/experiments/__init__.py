"""mlplab.experiments."""
