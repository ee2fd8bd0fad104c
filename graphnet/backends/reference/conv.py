"""Reference kernels of the convolution and pooling ops."""
