"""Deployment: model packages, the REST server and ONNX export.

``zoo export`` writes a package (the checkpoint's safetensors and a sealed JSON card with the
input shape and dtype, preprocessing statistics, vocabulary, metrics, versions and, for
detectors, a threshold chosen on validation scores); ``zoo serve`` answers REST requests with
the model's evaluate hooks through the same preprocessing as ``zoo evaluate``. FastAPI,
uvicorn and onnxruntime are imported only here, and only when serving or exporting.

Owns: packages (`package`: export, seal, verify, load), ONNX export and its runtime (`onnx`),
the request checks and inference (`service`), server-side micro-batching (`batching`) and the
FastAPI app (`app`), with its configuration and limits (`config`). May import: zoo.errors, zoo.plugins, zoo.data, zoo.training, zoo.models,
zoo.evaluation, zoo.runs (a test checks it; imports run downward only).
"""
