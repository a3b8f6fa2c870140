"""zoo-gan: generative adversarial networks (DCGAN, WGAN-GP) for zoo."""
