"""zoo-cnn: convolutional networks for zoo."""
