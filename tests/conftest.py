"""Test configuration shared by the whole suite."""

import os

# scikit-learn's estimator checks skip their array-API check unless SciPy's
# array-API mode is on; it must be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
