"""SmoothClipScaler: robust scaling with a smooth clip, for an MLP's numeric inputs.

The preprocessing of numeric columns in RealMLP (Holzmüller, Grinsztajn and
Steinwart, 2024, "Better by default: strong pre-tuned MLPs and boosted trees
on tabular data"), as a scikit-learn transformer of its own: the median and a
quantile range say where a column's bulk lies, and a smooth, invertible clip
keeps its outliers from dominating the first layer.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._params import _Constraint, _None, _Number, validate_params


class _QuantileRange(_Constraint):
    """A pair (low, high) of percentiles with 0 <= low < high <= 100."""

    def is_satisfied_by(self, value) -> bool:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return False
        percent = _Number(0, 100)
        low, high = value
        return (
            percent.is_satisfied_by(low)
            and percent.is_satisfied_by(high)
            and low < high
        )

    def describe(self) -> str:
        return "a pair (low, high) of percentiles with 0 <= low < high <= 100"


CONSTRAINTS: dict[str, list[_Constraint]] = {
    "quantile_range": [_QuantileRange()],
    "max_abs": [_Number(0, None, closed="neither"), _None()],
}

# float32 stays float32; anything else is converted to the first
OUTPUT_DTYPES = (np.float64, np.float32)

SPARSE_REFUSED = (
    "SmoothClipScaler centers every column at its median, which would make a "
    "sparse matrix dense; it takes dense data only. Pass X.toarray() if the "
    "dense matrix fits in memory, or scale sparse columns with "
    "sklearn.preprocessing.RobustScaler(with_centering=False) or MaxAbsScaler."
)


class SmoothClipScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Center at the median, scale by a quantile range, then clip smoothly.

    Each column x is mapped, with m its median, s its spread and c =
    ``max_abs``, to

    .. math::

        z = \frac{x - m}{s}, \qquad
        f(z) = \frac{z}{\sqrt{1 + (z / c)^2}}.

    The smooth clip f is close to the identity near 0 (f(z) = z − z³/(2c²)
    + ...), odd, increasing, and bounded: :math:`|f(z)| < c` for every z.
    The bulk of a column therefore arrives at the network as with
    scikit-learn's :class:`~sklearn.preprocessing.RobustScaler`, while an
    outlier, however far, arrives below c, so that it neither dominates the
    first layer's products nor saturates its units. This is the preprocessing of numeric
    columns in RealMLP (Holzmüller et al., 2024), with c = 3.

    The spread s is the distance between the quantiles ``quantile_range``
    (the interquartile range by default). A column whose quantile range is
    0 (mostly one value, such as a rare flag) falls back to half its range,
    s = (max − min) / 2, as RealMLP does: the farther of its extremes then
    arrives at least one spread from 0, and no value is divided by 0. A
    column that is constant in ``fit`` gets s = 1, as in scikit-learn's
    scalers: its training values all map to 0. (RealMLP maps a constant
    column to 0 for any input; here a new value v maps to f(v − m).)

    The name says what sets it apart from scikit-learn's ``RobustScaler``:
    the smooth clip; it ends in "Scaler" like the scalers it sits beside in a
    pipeline.

    Parameters
    ----------
    quantile_range : tuple (low, high), default=(25.0, 75.0)
        Percentiles of the quantiles whose distance is the spread s, with
        0 <= low < high <= 100. (0, 100) scales by the range.
    max_abs : float or None, default=3.0
        The bound c of the smooth clip, a positive float: every output lies
        between -c and c (reaching ±c only by rounding, for an input about
        10⁸ spreads or more from the median). None leaves out the clip
        (f(z) = z), which is robust scaling with the fallbacks above.

    Attributes
    ----------
    center_ : ndarray of shape (n_features,)
        The median m of each column in ``fit``.
    scale_ : ndarray of shape (n_features,)
        The spread s of each column: its quantile range, half its range when
        that is 0, or 1 when the column was constant.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns seen in ``fit``, when they are all strings.

    See Also
    --------
    sklearn.preprocessing.RobustScaler : The same centering and scaling,
        without the fallback and the clip.
    sklearn.preprocessing.QuantileTransformer : Maps each column to a fixed
        distribution through its ranks; not invertible outside the data.

    Notes
    -----
    **Missing values** (NaN) are ignored in ``fit`` and passed through by
    ``transform`` and ``inverse_transform``, as scikit-learn's scalers do. A
    column with no value at all in ``fit`` gets m = 0 and s = 1.

    **Sparse input** is refused with a ``ValueError``: centering makes a
    sparse matrix dense, and unlike ``RobustScaler`` there is no option to
    leave out the centering: the clip bounds the distance from the median,
    and clipping around 0 instead would be another transform. Numeric
    columns of tabular data are dense; one-hot columns need no scaling.

    **inverse_transform** undoes the clip, z = y / sqrt(1 − (y / c)²), and
    then the scaling. The clip is invertible on (−c, c), the range of
    ``transform``; a value that ``transform`` rounded to ±c (an input more
    than about 10⁸ spreads away, in float64) comes back as ±inf, and a value
    outside [−c, c] raises a ``ValueError``. Near ±c the round trip loses
    precision, as the clip's slope goes to 0 there.

    float32 input gives float32 output; any other dtype gives float64.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn_scratch import SmoothClipScaler
    >>> X = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0], [100.0, 1.0]])
    >>> scaler = SmoothClipScaler().fit(X)
    >>> scaler.center_
    array([3., 0.])
    >>> scaler.scale_  # the interquartile range; half the range for column 1
    array([2. , 0.5])
    >>> np.round(scaler.transform(X), 3)
    array([[-0.949,  0.   ],
           [-0.493,  0.   ],
           [ 0.   ,  0.   ],
           [ 0.493,  0.   ],
           [ 2.994,  1.664]])
    >>> np.round(scaler.inverse_transform(scaler.transform(X)), 6)
    array([[  1.,   0.],
           [  2.,   0.],
           [  3.,   0.],
           [  4.,   0.],
           [100.,   1.]])

    The outlier 100 is 48.5 spreads above the median, and arrives just
    below the bound 3. With pandas output, the column names are kept:

    >>> import pandas as pd
    >>> frame = pd.DataFrame(
    ...     {"income": [20.0, 30.0, 40.0, 50.0, 1e6], "age": [30, 40, 50, 60, 70]}
    ... )
    >>> scaled = SmoothClipScaler().set_output(transform="pandas").fit_transform(frame)
    >>> scaled.round(3)
       income    age
    0  -0.949 -0.949
    1  -0.493 -0.493
    2   0.000  0.000
    3   0.493  0.493
    4   3.000  0.949
    """

    _parameter_constraints = CONSTRAINTS

    def __init__(
        self,
        *,
        quantile_range: tuple[float, float] = (25.0, 75.0),
        max_abs: float | None = 3.0,
    ) -> None:
        self.quantile_range = quantile_range
        self.max_abs = max_abs

    def fit(self, X, y=None) -> "SmoothClipScaler":
        """Compute each column's median and spread, ignoring missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data; NaN is ignored. Sparse matrices are refused.
        y : None
            Ignored; present for the pipeline API.

        Returns
        -------
        self : SmoothClipScaler
            The fitted scaler.
        """
        validate_params(self, self._parameter_constraints)
        X = self._validate(X, reset=True)
        n_features = X.shape[1]
        center = np.zeros(n_features)
        scale = np.ones(n_features)
        # An all-NaN column keeps center 0 and scale 1; asking NumPy for its
        # quantiles would only warn and give NaN.
        seen = ~np.all(np.isnan(X), axis=0)
        if seen.any():
            columns = X[:, seen].astype(np.float64, copy=False)
            low, high = self.quantile_range
            # nanpercentile goes column by column; percentile, at once
            percentile = np.nanpercentile if np.isnan(columns).any() else np.percentile
            q_low, median, q_high = percentile(columns, [low, 50.0, high], axis=0)
            spread = q_high - q_low
            half_range = (np.nanmax(columns, axis=0) - np.nanmin(columns, axis=0)) / 2
            spread = np.where(spread > 0, spread, half_range)
            center[seen] = median
            scale[seen] = np.where(spread > 0, spread, 1.0)
        self.center_ = center
        self.scale_ = scale
        return self

    def transform(self, X):
        """Center, scale and smoothly clip each column.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data with the columns seen in ``fit``; NaN passes through.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            The transformed data, a new array: within [−max_abs, max_abs]
            where ``max_abs`` is set.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        center, scale, bound = self._statistics(X.dtype)
        shifted = X - center
        if self.max_abs is None:
            return shifted / scale
        # f(z) with z = (x - m) / s, written as c * v / hypot(s, v) with
        # v = (x - m) / c: the same value, without forming z, whose square
        # overflows for a tiny spread or a huge input. As rounded hypot(s, v)
        # is at least |v|, the result never exceeds c, as inverse_transform
        # requires.
        over_bound = shifted / bound
        return bound * (over_bound / np.hypot(scale, over_bound))

    def inverse_transform(self, X):
        """Undo the clip and the scaling: back to the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Transformed data, within [−max_abs, max_abs]; NaN passes through.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            The data in the original units; ±inf where X is ±max_abs.

        Raises
        ------
        ValueError
            If a value lies outside [−max_abs, max_abs], which ``transform``
            never gives.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        center, scale, bound = self._statistics(X.dtype)
        outside = np.abs(X) > bound
        if outside.any():
            row, column = np.argwhere(outside)[0]
            value = float(X[row, column])
            raise ValueError(
                f"inverse_transform takes the values transform gives, within "
                f"[-max_abs, max_abs] = [{-bound}, {bound}]; got {value!r} "
                f"in row {row}, column {column}."
            )
        ratio = X / bound
        # 1 - r² as (1 - r)(1 + r): exact where r is near ±1
        room = np.sqrt((1 - ratio) * (1 + ratio))
        # where room is 0 (X = ±c) the limit ±inf, where X is NaN NaN
        limit = np.where(np.isnan(X), X, np.copysign(np.inf, X))
        unclipped = np.divide(X, room, out=limit, where=room > 0)
        return unclipped * scale + center

    def _validate(self, X, *, reset: bool) -> np.ndarray:
        if sp.issparse(X):
            raise ValueError(SPARSE_REFUSED)
        return validate_data(
            self, X, reset=reset, dtype=OUTPUT_DTYPES, ensure_all_finite="allow-nan"
        )

    def _statistics(self, dtype) -> tuple[np.ndarray, np.ndarray, Real]:
        """The center, the spread and the bound c, in the data's dtype."""
        bound = np.inf if self.max_abs is None else self.max_abs
        return (
            self.center_.astype(dtype, copy=False),
            self.scale_.astype(dtype, copy=False),
            dtype.type(bound),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = [
            np.dtype(dtype).name for dtype in OUTPUT_DTYPES
        ]
        return tags
