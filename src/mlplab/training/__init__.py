"""mlplab.training."""
