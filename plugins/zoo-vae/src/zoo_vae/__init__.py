"""zoo-vae: the variational autoencoder for zoo, a generative model and anomaly detector."""
