"""The built-in physics: lattices, the spin model, the numba solver, observables, classifier.

Imports nothing from the learning, execution or store layers.
"""
