"""Helpers shared by test modules (plain functions, classes and constants; fixtures live in conftest.py)."""
