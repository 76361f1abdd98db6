"""homog: data-driven multiscale homogenization (FFT full-field solvers and SCA)."""

__version__ = "0.1.0"
