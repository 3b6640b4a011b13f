# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, cpow=True
"""The compiled engine built a second time for CPUs with AVX2.

It is ``_kernels.pyx`` itself, included here and compiled with ``-mavx2`` so
that its element-wise loops work on four float64 (eight float32) at a time
instead of two (four); ``_engine`` loads it where the CPU has AVX2. Without
fused multiply-adds (``-ffp-contract=off``) both builds compute the same
values, bit for bit.
"""

include "_kernels.pyx"
