"""Classical baselines for zoo: Isolation Forest, one-class SVM, kNN, logistic and linear
regression, on scikit-learn. Importing this package is cheap; the models live in
``zoo_baselines.detectors`` and ``zoo_baselines.supervised`` and are imported when built."""
