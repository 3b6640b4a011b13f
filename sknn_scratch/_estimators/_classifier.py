"""ScratchMLPClassifier: binary, multiclass and multilabel classification."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d

from .._reference._losses import class_probabilities
from ._base import BaseScratchMLP, incremental_only
from ._docstrings import (
    COMMON_ATTRIBUTES,
    COMMON_PARAMETERS,
    DROPOUT_PARAMETER,
    EMBEDDING_PARAMETERS,
    MEMBERS_PARAMETER,
    SCORING_PARAMETER,
    TRAINING_CONTROL_PARAMETERS,
)
from ._params import CLASSIFIER_CONSTRAINTS
from ._sample_weight import ScaledWeights, scaled

_DOC = """Multi-layer perceptron classifier trained by sknn_scratch's own engine.

A drop-in for :class:`sklearn.neural_network.MLPClassifier`: the same
parameters, defaults and fitted attributes, with a forward pass,
backpropagation and optimisers of its own (compiled kernels, and a NumPy
reference engine). It minimises the log-loss
with a softmax output (multiclass) or logistic outputs (binary and
multilabel).

Parameters
----------
{parameters}

class_weight : dict, 'balanced' or None, default=None
    Weight of each class in the loss, multiplying the sample weights: a dict
    ``{{label: weight}}`` (labels left out weigh 1), or 'balanced' for
    ``n_samples / (n_classes * count of the class)``, or None for equal
    weights. Under early stopping the validation accuracy is weighted the same
    way. 'balanced' counts samples by their sample weights; for multilabel
    targets it balances each label's 0s and 1s and multiplies the weights
    over labels. ``partial_fit`` takes a dict but not 'balanced', which needs
    all the classes' counts at once. (Not in scikit-learn's MLP.)

{dropout}

{scoring}

{training_control}

label_smoothing : float, default=0.0
    ε of label smoothing, in [0, 1): the log-loss is taken against targets
    ``t (1 - ε) + ε / K``, with K the number of classes for a softmax output
    and K = 2 for each logistic one (binary and multilabel). The training
    loss, ``loss_curve_`` included, is that of the smoothed targets;
    validation scores and ``scoring='loss'`` are not smoothed. (Not in
    scikit-learn's MLP.)

{embedding}

{members}

Attributes
----------
classes_ : ndarray of shape (n_classes,)
    Class labels, in the order of the columns of ``predict_proba``.

{attributes}

See Also
--------
ScratchMLPRegressor : The regressor built on the same engine.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from sklearn.preprocessing import StandardScaler
>>> from sknn_scratch import ScratchMLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> X = StandardScaler().fit_transform(X)
>>> clf = ScratchMLPClassifier(solver="lbfgs", random_state=0).fit(X, y)
>>> clf.predict_proba(X[:1]).shape
(1, 3)
>>> clf.score(X, y) > 0.95
True
""".format(
    parameters=COMMON_PARAMETERS.replace(
        "{split}", "stratified by class, except for multilabel targets"
    ),
    attributes=COMMON_ATTRIBUTES.replace("{score}", "Accuracy"),
    dropout=DROPOUT_PARAMETER,
    scoring=SCORING_PARAMETER.replace("{score}", "accuracy"),
    training_control=TRAINING_CONTROL_PARAMETERS,
    embedding=EMBEDDING_PARAMETERS,
    members=MEMBERS_PARAMETER,
)


class ScratchMLPClassifier(ClassifierMixin, BaseScratchMLP):
    __doc__ = _DOC
    _parameter_constraints = CLASSIFIER_CONSTRAINTS

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        class_weight=None,
        dropout=0.0,
        scoring=None,
        warmup_fraction=0.0,
        weight_decay=0.0,
        label_smoothing=0.0,
        embedding=None,
        embedding_columns=None,
        embedding_size=16,
        embedding_scale=0.1,
        n_members=1,
    ):
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            scoring=scoring,
            warmup_fraction=warmup_fraction,
            weight_decay=weight_decay,
            embedding=embedding,
            embedding_columns=embedding_columns,
            embedding_size=embedding_size,
            embedding_scale=embedding_scale,
            n_members=n_members,
        )

    # -- targets ----------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset, classes=None):
        X, y = self._validate_X_y(X, y, reset=reset, y_numeric=False)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if incremental:
            self._set_partial_fit_classes(y, classes)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = _fit_label_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        elif self.warm_start and not incremental:
            if set(unique_labels(y)) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes "
                    "as in the previous call to fit. Previously got "
                    f"{self.classes_}, `y` has {unique_labels(y)}. Set "
                    "warm_start=False to fit on these classes afresh."
                )
        else:
            labels = unique_labels(y)
            unknown = np.setdiff1d(labels, self.classes_)
            if len(unknown):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {labels}. The labels {unknown} are "
                    "new: pass every label in `classes` on the first call to "
                    "partial_fit."
                )
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if len(self.classes_) < 2 and not multilabel:
            raise ValueError(
                "The classifier needs samples of at least 2 classes to learn from; "
                f"the data contains only one class: {self.classes_.tolist()[0]!r}."
            )
        stratify = None if multilabel else y
        return X, self._encode(y, X.dtype), y, stratify

    def _encode(self, y, dtype) -> np.ndarray:
        """Labels known to ``classes_`` as the targets of the loss."""
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        T = None if multilabel else self._one_hot(y, dtype)
        if T is None:
            T = self._label_binarizer.transform(y).astype(dtype)
        return T

    def _validate_validation_input(self, X_val, y_val, dtype):
        X, y = self._validate_X_y(X_val, y_val, reset=False, y_numeric=False)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if type_of_target(y).startswith("multilabel") != multilabel:
            raise ValueError(
                "y_val must be of the kind the training y is: "
                + (
                    f"a label indicator matrix of {len(self.classes_)} columns."
                    if multilabel
                    else f"class labels among {self.classes_.tolist()}."
                )
            )
        if multilabel and y.shape[1] != len(self.classes_):
            raise ValueError(
                f"y_val has {y.shape[1]} label columns; the training y has "
                f"{len(self.classes_)}."
            )
        if not multilabel:
            unknown = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unknown):
                raise ValueError(
                    f"y_val has labels {unknown.tolist()} that the training y "
                    f"does not have: its classes are {self.classes_.tolist()}."
                )
        return X.astype(dtype, copy=False), self._encode(y, dtype), y

    def _one_hot(self, y, dtype) -> np.ndarray | None:
        """The label binarizer's encoding of 1-D labels, made directly: one
        column (the second class) for a binary problem, one per class
        otherwise. (LabelBinarizer.transform makes it too, but checks the
        labels' type four more times, which cost a small fit more than its
        first epochs.) None where a label is not in ``classes_``, which the
        binarizer then reports."""
        index = np.searchsorted(self.classes_, y)
        index[index == len(self.classes_)] = 0
        if not np.array_equal(self.classes_[index], y):
            return None
        if self._label_binarizer.y_type_ == "binary":
            return (index == 1).astype(dtype).reshape(-1, 1)
        T = np.zeros((len(y), len(self.classes_)), dtype=dtype)
        T[np.arange(len(y)), index] = 1
        return T

    def _set_partial_fit_classes(self, y, classes) -> None:
        """The label encoding of partial_fit: fixed by ``classes`` on first call."""
        if getattr(self, "classes_", None) is None:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                binarizer.fit(y)
                if not np.array_equal(binarizer.classes_, unique_labels(classes)):
                    raise ValueError(
                        f"For a multilabel indicator y with {y.shape[1]} columns, "
                        f"classes must be the column indices 0..{y.shape[1] - 1}; "
                        f"got classes={classes!r}."
                    )
            else:
                binarizer.fit(unique_labels(classes))
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
        elif classes is not None and not np.array_equal(
            self.classes_, unique_labels(classes)
        ):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to "
                f"partial_fit, was: {self.classes_!r}"
            )

    def _training_targets(self, T: np.ndarray) -> np.ndarray:
        """Label smoothing: t (1 - ε) + ε / K, K the classes of a softmax
        output, 2 for each logistic one (a new array; none without it)."""
        epsilon = float(self.label_smoothing)
        if not epsilon:
            return T
        classes = T.shape[1] if self.out_activation_ == "softmax" else 2
        return T * (1.0 - epsilon) + epsilon / classes

    def _expected_outputs(self) -> int | None:
        """One output for a binary problem, one per class (or label) otherwise."""
        classes = getattr(self, "classes_", None)
        kind = getattr(getattr(self, "_label_binarizer", None), "y_type_", None)
        if classes is None or not isinstance(kind, str):
            return None
        return 1 if kind == "binary" else len(classes)

    def _loss_name(self) -> str:
        if self._label_binarizer.y_type_ == "multiclass":
            return "log_loss"  # softmax output
        return "binary_log_loss"  # one logistic output per class or label

    def _why_not_incremental(self) -> str | None:
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            return (
                f"This {type(self).__name__!r} has no attribute 'partial_fit'. "
                "partial_fit is unavailable with class_weight='balanced', which "
                "needs the class counts of all the data, and partial_fit never "
                "sees it at once. Compute the weights with sklearn.utils.class_weight."
                "compute_class_weight('balanced', classes=classes, y=y) and pass "
                "them as a dict."
            )
        return super()._why_not_incremental()

    def _apply_class_weight(self, weights, T):
        """Multiply each sample's weight by the weight of its class.

        ``weights`` and the result are ``ScaledWeights`` (or None), so that no
        product of large sample and class weights overflows. 'balanced'
        weighs class k by S / (K S_k), with S_k the total sample weight of
        class k (its count without sample weights). For multilabel targets
        each label column is balanced between its 0s and 1s and a sample's
        weight is the product over columns, as in scikit-learn's
        ``compute_sample_weight``.
        """
        if self.class_weight is None:
            return weights
        if weights is None:
            weights = ScaledWeights(np.ones(T.shape[0]), 0)
        base = weights.values
        if self._label_binarizer.y_type_.startswith("multilabel"):
            if not isinstance(self.class_weight, str):
                raise ValueError(
                    "For multilabel targets class_weight can only be 'balanced' "
                    "(or None); a dict {label: weight} has no meaning there."
                )
            per_sample = np.ones(T.shape[0])
            for column in T.T.astype(int):
                per_sample *= self._balanced(column, base, 2)[column]
            per_sample = scaled(per_sample)
        else:
            n_classes = len(self.classes_)
            class_index = T.argmax(axis=1) if T.shape[1] > 1 else T[:, 0].astype(int)
            if isinstance(self.class_weight, str):  # "balanced"
                per_class = self._balanced(class_index, base, n_classes)
            else:
                known = set(self.classes_.tolist())
                unknown = [c for c in self.class_weight if c not in known]
                if unknown:
                    raise ValueError(
                        f"class_weight has labels {unknown} that are not among "
                        f"the classes {self.classes_.tolist()}."
                    )
                per_class = np.array(
                    [self.class_weight.get(c, 1.0) for c in self.classes_.tolist()],
                    dtype=np.float64,
                )
            per_class = scaled(per_class)
            per_sample = ScaledWeights(
                per_class.values[class_index], per_class.exponent
            )
        product = per_sample.values * base
        if not product.any():
            raise ValueError("class_weight gives every sample a weight of zero.")
        return scaled(product, per_sample.exponent + weights.exponent)

    @staticmethod
    def _balanced(class_index, sample_weight, n_classes) -> np.ndarray:
        """S / (K S_k) for each class k; 0 for a class with no weight at all."""
        totals = np.bincount(class_index, weights=sample_weight, minlength=n_classes)
        per_class = np.zeros(n_classes)
        present = totals > 0
        per_class[present] = totals.sum() / (n_classes * totals[present])
        return per_class

    def _score_outputs(self, outputs, T, sample_weight) -> float:
        if outputs.shape[1] > 1 and self.out_activation_ == "softmax":
            predicted, true = outputs.argmax(axis=1), T.argmax(axis=1)
        else:
            predicted, true = outputs > 0.5, T > 0.5
            if predicted.shape[1] == 1:
                predicted, true = predicted.ravel(), true.ravel()
        return float(accuracy_score(true, predicted, sample_weight=sample_weight))

    # -- public API --------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Train the network on X and class labels y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 trains in float32, anything else in float64.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label indicator matrix for multilabel problems.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
default=None
            Validation data for early stopping, instead of a split of X:
            needs ``early_stopping=True`` and 'sgd' or 'adam', and then all of
            X trains and ``validation_fraction`` is ignored. In a ``Pipeline``,
            ``transform_input=["X_val"]`` transforms it as X is (with metadata
            routing enabled). (Not in scikit-learn's MLP.)
        y_val : array-like of shape (n_val,) or (n_val, n_labels), default=None
            Labels of ``X_val``, among the classes of y. Given with ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weight of each row of ``X_val`` in the validation score and loss
            (times ``class_weight``, as in training).

        Returns
        -------
        self : ScratchMLPClassifier
            The fitted estimator.
        """
        return self._fit(
            X,
            y,
            sample_weight=sample_weight,
            incremental=False,
            validation_data=(X_val, y_val, sample_weight_val),
        )

    @incremental_only
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of the stochastic solver over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A batch of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Its labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        classes : array-like of shape (n_classes,), default=None
            Every label that any call may see. Required on the first call,
            optional afterwards.

        Returns
        -------
        self : ScratchMLPClassifier
            The updated estimator.
        """
        return self._fit(
            X, y, sample_weight=sample_weight, incremental=True, classes=classes
        )

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_`` (an indicator matrix for multilabel).
        """
        probabilities = self._forward(X)
        if self.n_outputs_ == 1:
            probabilities = probabilities.ravel()
        return self._label_binarizer.inverse_transform(probabilities)

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``. Rows sum to one, except for
            multilabel problems, where each column is a separate probability.
        """
        if self._members() > 1 or getattr(self, "out_activation_", None) == "softmax":
            # the engine's own output activation: for softmax, in cache, on
            # the engine's threads; for members, the mean of their probabilities
            probabilities = self._forward(X)
            if probabilities.shape[1] == 1 and self.out_activation_ == "logistic":
                return np.column_stack([1.0 - probabilities[:, 0], probabilities[:, 0]])
            return probabilities
        logits = self._forward(X, logits=True)
        return class_probabilities(logits, self.out_activation_)

    def predict_log_proba(self, X):
        """Logarithm of the probability of each class.

        Exactly ``np.log(predict_proba(X))``, as scikit-learn's contract
        requires: ``-inf`` where a probability is 0.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        probabilities = self.predict_proba(X)
        with np.errstate(divide="ignore"):  # log(0) is -inf, not a warning
            return np.log(probabilities, out=probabilities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _fit_label_binarizer(y) -> LabelBinarizer:
    """``LabelBinarizer().fit(y)``, made directly for 1-D numeric labels.

    ``check_classification_targets`` has accepted y; then its classes are
    ``np.unique(y)`` and its type is "binary" up to two classes, "multiclass"
    above, as LabelBinarizer.fit finds them by two more passes of
    ``type_of_target`` (on 20,000 labels, those cost as much as a small
    network's epoch in float32). Strings, objects and 2-D targets go through
    LabelBinarizer.fit itself, which also sets the dtype of string classes.
    """
    if y.ndim != 1 or y.dtype.kind not in "biuf":
        return LabelBinarizer().fit(y)
    binarizer = LabelBinarizer()
    binarizer.classes_ = np.unique(y)
    binarizer.y_type_ = "multiclass" if len(binarizer.classes_) > 2 else "binary"
    binarizer.sparse_input_ = False
    return binarizer
