"""The scikit-learn face: the estimators and what surrounds them.

This layer turns scikit-learn's conventions (parameter validation, labels,
sample and class weights, the validation split, warm start, ``partial_fit``)
into calls to the engine, and holds no calculus of its own. The engine is
reached through ``sknn_scratch._reference`` (the NumPy engine, whose
``Network`` hands the work to the compiled engine where that runs).
"""
