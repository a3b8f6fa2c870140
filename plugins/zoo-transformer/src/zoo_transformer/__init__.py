"""zoo-transformer: the transformer backbone and sequence model for zoo."""
