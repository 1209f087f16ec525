"""Uploaded images: validation, storage under the media directory, serving."""
