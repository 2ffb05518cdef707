"""Decoder output guards (pure): loop detection and collapsing, digit strings, UTF-8 from bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.plugins.speech.text import (
    MAX_DIGIT_RUN,
    collapse_repeats,
    find_repeat,
    has_loop,
    utf8_text,
)
from callcenter.plugins.speech.whisper_engine import WhisperOptions, guarded_decode


def test_the_issue_loop_is_found_and_collapsed() -> None:
    text = "这个跟舞伯伯伯伯伯伯伯伯伯伯伯"
    run = find_repeat(text)
    assert run is not None and run.unit == "伯" and run.count == 11 and run.start == 4
    assert collapse_repeats(text) == "这个跟舞伯伯伯"
    assert collapse_repeats(text, keep=1) == "这个跟舞伯"


@pytest.mark.parametrize(
    ("text", "collapsed"),
    [
        ("你好你好你好你好你好吗", "你好你好你好吗"),  # a 2-gram
        ("我们去看看吧，我们去看看吧，我们去看看吧，我们去看看吧，", "我们去看看吧，" * 3),  # a phrase
        ("嗯嗯嗯嗯，好的", "嗯嗯嗯，好的"),
        ("ab" * 30, "ababab"),
        ("前面正常。" + "对对" * 20 + "后面也正常", "前面正常。对对对后面也正常"),
    ],
)
def test_runs_longer_than_three_are_collapsed(text: str, collapsed: str) -> None:
    assert has_loop(text)
    assert collapse_repeats(text) == collapsed
    assert not has_loop(collapsed)


@pytest.mark.parametrize("text", ["哈哈哈", "谢谢谢谢"[:3], "一天一天一天", "广州市房地产中介协会分析", ""])
def test_three_repeats_or_fewer_are_left_alone(text: str) -> None:
    assert not has_loop(text)
    assert collapse_repeats(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "我的电话是13800000000",  # eight zeros in a mobile number
        "身份证号110101199001011111",  # 18 digits, a run of five 1s
        "房间号8888",
        "幺三八零零零零零零零零",  # a number read out in Chinese numerals
        "一二三四一二三四一二三四一二三四",  # 16 digit characters
    ],
)
def test_digit_strings_up_to_eighteen_characters_are_exempt(text: str) -> None:
    assert not has_loop(text)
    assert collapse_repeats(text) == text


def test_a_digit_loop_longer_than_an_id_number_is_a_loop() -> None:
    text = "电话" + "0" * (MAX_DIGIT_RUN + 1)
    assert has_loop(text)
    assert collapse_repeats(text) == "电话000"
    assert has_loop("123" + "5" * 40)


def test_keep_must_be_between_one_and_max_repeats() -> None:
    with pytest.raises(ValueError):
        collapse_repeats("啊啊啊啊", keep=0)
    with pytest.raises(ValueError):
        collapse_repeats("啊啊啊啊", keep=4)


@given(st.text(alphabet="伯舞这个跟ab，0", max_size=60))
def test_collapse_is_idempotent_and_leaves_no_loop(text: str) -> None:
    once = collapse_repeats(text)
    assert collapse_repeats(once) == once
    assert not has_loop(once)
    assert len(once) <= len(text)


@given(st.text(max_size=40))
def test_utf8_text_never_invents_a_replacement_character(text: str) -> None:
    data = text.encode("utf-8")
    for cut in range(len(data) + 1):
        out = utf8_text(data[:cut])
        assert "\ufffd" not in out or "\ufffd" in text
        assert text.startswith(out)


def test_utf8_text_drops_a_half_character() -> None:
    assert utf8_text("中文".encode()[:-1]) == "中"
    assert utf8_text(b"\xe4\xbc" + "伯".encode()) == "伯"  # a stray lead fragment is dropped too


def test_decode_options_are_deterministic_and_budgeted() -> None:
    opts = WhisperOptions()
    kw = opts.decode_kwargs(5.0)
    assert kw["temperature"] == 0.0 and kw["beam_size"] == 5
    assert kw["condition_on_previous_text"] is False and kw["compression_ratio_threshold"] is None
    assert kw["repetition_penalty"] == 1.0 and kw["no_repeat_ngram_size"] == 0
    retry = opts.decode_kwargs(5.0, retry=True)
    assert retry["repetition_penalty"] > 1.0
    assert retry["temperature"] == 0.0
    assert opts.max_new_tokens(0.5) == opts.min_new_tokens
    assert opts.max_new_tokens(5.0) == max(opts.min_new_tokens, round(opts.tokens_per_second * 5))
    assert opts.max_new_tokens(60.0) == opts.max_new_tokens_cap


class _Runs:
    """Scripted decoder passes for the loop policy (pure logic: no model)."""

    def __init__(self, first: str, retry: str) -> None:
        self.texts = {False: first, True: retry}
        self.calls: list[bool] = []

    def __call__(self, retry: bool) -> tuple[str, list[float]]:
        self.calls.append(retry)
        return self.texts[retry], [-0.1 if not retry else -0.2]


def test_guarded_decode_clean_first_pass_is_not_retried() -> None:
    runs = _Runs("广州市房地产中介协会分析", "unused")
    assert guarded_decode(runs) == ("广州市房地产中介协会分析", [-0.1], "plain")
    assert runs.calls == [False]


def test_guarded_decode_takes_a_clean_retry() -> None:
    runs = _Runs("这个跟舞伯伯伯伯伯伯伯伯", "这个跟吴伯伯说")
    assert guarded_decode(runs) == ("这个跟吴伯伯说", [-0.2], "retry")
    assert runs.calls == [False, True]


def test_guarded_decode_keeps_the_good_part_when_the_retry_loops_too() -> None:
    runs = _Runs("这个跟舞伯伯伯伯伯伯伯伯，后来呢", "伯伯伯伯伯伯")
    text, logprobs, how = guarded_decode(runs)
    assert (text, how) == ("这个跟舞伯，后来呢", "collapsed")
    assert logprobs == [-0.1]
