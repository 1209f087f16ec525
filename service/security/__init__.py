"""Signing, hashing and secret handling shared by every domain."""
