"""Editors: accounts, roles, login sessions, API tokens and the browser UI for composing."""
