"""Deployment: model packages and the REST server.

``zoo export`` writes a package (the checkpoint's safetensors and a sealed JSON card with the
input shape and dtype, preprocessing statistics, vocabulary, metrics, versions and, for
detectors, a threshold chosen on validation scores; with ``--onnx`` the graphs of
:mod:`zoo.models.onnx`); ``zoo serve`` answers REST requests with the model's evaluate hooks
through the same preprocessing as ``zoo evaluate``. FastAPI and uvicorn are imported only
here, and only when serving.

Owns: packages (`package`: export, seal, verify, load), the request checks and inference
(`service`), server-side micro-batching (`batching`), the FastAPI app (`app`) and its
configuration and limits (`config`). May import: zoo.errors, zoo.plugins, zoo.data,
zoo.training, zoo.models, zoo.evaluation, zoo.runs (a test checks it; imports run downward
only).
"""
