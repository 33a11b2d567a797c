"""mlplab.data."""
