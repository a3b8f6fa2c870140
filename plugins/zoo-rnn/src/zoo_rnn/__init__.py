"""zoo-rnn: recurrent networks (LSTM, GRU) for zoo."""
