"""The compiled engine: the NumPy engine's computation in Cython kernels.

Built by ``pip install .`` (see ``setup.py``); where it is not built the
package runs on the NumPy reference engine (``sknn_scratch._engine`` decides).
"""
