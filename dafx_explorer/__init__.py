"""DAFX Explorer: explore and control digital audio effects through a learned latent space."""

__version__ = "0.1.0"
