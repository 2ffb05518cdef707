"""Session-wide real models shared by the test packages (trained or installed once per run)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Corpus size of the session model: smaller than production, same code path.
TEST_PER_MATTER = {"train": 24, "calib": 3, "test": 4}
#: Agent feedback in the session model: a phrasing the generated corpus never contains.
FEEDBACK_TEXT = "小区门口那个快递驿站的三轮车把整个出口全堵死了"
FEEDBACK_MATTER = "0900010"  # 非机动车乱停放


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real suggester model trained once for the whole session; returns its models folder."""
    from callcenter.plugins.classifier.training import train

    models_dir = tmp_path_factory.mktemp("shared_classifier_models")
    feedback = [
        {"text": FEEDBACK_TEXT, "matter_code": FEEDBACK_MATTER},
        {"text": "", "matter_code": FEEDBACK_MATTER},  # unusable: skipped
        {"text": "正常文本", "matter_code": "9999999"},  # unknown matter: skipped
    ]
    train(models_dir, feedback, progress=False, per_matter=TEST_PER_MATTER, seed=7)
    return models_dir
