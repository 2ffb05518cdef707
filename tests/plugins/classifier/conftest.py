"""Fixtures of the classifier tests: the session model shared by all test packages
(``tests/fixtures_models.py``: trained once per run, smaller corpus than production, same code path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.catalogue import Catalogue, load_catalogue
from callcenter.plugins.classifier.suggester import Suggester
from callcenter.plugins.classifier.training import ModelInfo, load_model_info
from tests.fixtures_models import FEEDBACK_MATTER, FEEDBACK_TEXT

__all__ = ["FEEDBACK_MATTER", "FEEDBACK_TEXT"]


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def models_dir(trained_model_dir: Path) -> Path:
    return trained_model_dir


@pytest.fixture(scope="session")
def trained(models_dir: Path) -> ModelInfo:
    return load_model_info(models_dir)


@pytest.fixture(scope="session")
def suggester(trained: ModelInfo, models_dir: Path) -> Iterator[Suggester]:
    yield Suggester.load(models_dir, threshold=0.85)
