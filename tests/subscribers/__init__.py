"""Tests of the subscribers domain."""
