"""Reference kernels of the nn ops."""
