"""zoo-autoencoder: reconstruction-error and Deep SVDD anomaly detectors for zoo."""
