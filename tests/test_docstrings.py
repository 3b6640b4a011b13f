"""The examples in the public docstrings run and print what they say."""

import doctest

import pytest

import sknn_scratch
from sknn_scratch import _classifier, _display, _gradient_check, _regressor

MODULES = [_classifier, _regressor, _gradient_check, _display]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"sknn_scratch": sknn_scratch})
    assert result.attempted > 0
    assert result.failed == 0
