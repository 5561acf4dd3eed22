"""Samplers: stateless functions over (model, state, time grid, path)."""
