"""mlplab.plots."""
