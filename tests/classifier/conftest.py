"""Fixtures of the classifier tests: one real model trained per session (smaller corpus than production)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.catalogue import Catalogue, load_catalogue
from classifier.suggester import Suggester
from classifier.training import ModelInfo, train

#: Agent feedback used in the session model: a phrasing the generated corpus never contains.
FEEDBACK_TEXT = "小区门口那个快递驿站的三轮车把整个出口全堵死了"
FEEDBACK_MATTER = "0900010"  # 非机动车乱停放
TEST_PER_MATTER = {"train": 24, "calib": 3, "test": 4}


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("classifier_models")


@pytest.fixture(scope="session")
def trained(models_dir: Path) -> ModelInfo:
    feedback = [
        {"text": FEEDBACK_TEXT, "matter_code": FEEDBACK_MATTER},
        {"text": "", "matter_code": FEEDBACK_MATTER},  # unusable: skipped
        {"text": "正常文本", "matter_code": "9999999"},  # unknown matter: skipped
    ]
    return train(models_dir, feedback, progress=False, per_matter=TEST_PER_MATTER, seed=7)


@pytest.fixture(scope="session")
def suggester(trained: ModelInfo, models_dir: Path) -> Iterator[Suggester]:
    yield Suggester.load(models_dir, threshold=0.85)
