"""Thin trigger adapters: turn a delivery into the engine's input, hand it over, raise to ask for a retry."""
