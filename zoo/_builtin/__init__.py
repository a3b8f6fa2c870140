"""The core's own plugins, registered through the same path as installed ones.

Owns: the core's default plugins: built-in datasets, suites and the CSV logger; they name
their implementations by import path. May import: zoo.errors, zoo.plugins (a test checks it;
imports run downward only).
"""
