"""zoo-mlp: multilayer perceptrons for zoo."""
