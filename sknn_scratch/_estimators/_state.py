"""A failed call to fit or partial_fit changes nothing: the estimator's state
before the call, and putting it back in one step."""

import copy

# Where a snapshot keeps the values of the parameter vector, which training
# changes in place (the fitted coefs_ and intercepts_ are views into it).
_PARAMS_VALUES = "_params_values"


def snapshot(estimator, mutated_in_place: tuple[str, ...]) -> dict:
    """What ``restore`` needs to undo a failed call.

    The attribute dictionary, with deep copies of the attributes training
    changes in place (``mutated_in_place``) and a copy of the parameter values.
    """
    state = dict(vars(estimator))
    for name in mutated_in_place:
        if name in state:
            state[name] = copy.deepcopy(state[name])
    if "_params" in state:
        state[_PARAMS_VALUES] = state["_params"].copy()
    return state


def restore(estimator, state: dict) -> None:
    """Put back the state of ``snapshot`` (which it consumes).

    The parameter values go back into the same vector, so that arrays taken
    from ``coefs_`` before the call see them; then the whole attribute
    dictionary is replaced in one assignment, so that another thread reading
    the estimator meanwhile sees either the state before the restore or the
    state after it, never an emptied one.
    """
    values = state.pop(_PARAMS_VALUES, None)
    if values is not None:
        state["_params"][...] = values
    estimator.__dict__ = state
