"""mlplab.runs."""
