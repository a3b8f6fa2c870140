"""The core's own plugins, registered through the same path as installed ones."""
