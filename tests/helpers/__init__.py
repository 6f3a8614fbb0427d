"""Helpers shared by several test modules (imported as ``helpers.<module>``; tests/conftest.py
puts tests/ on the import path)."""
