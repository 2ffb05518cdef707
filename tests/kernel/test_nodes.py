"""Pure logic: node names and the node prefix of Asterisk uniqueids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.domain.nodes import node_of_uniqueid, validate_node


@pytest.mark.parametrize(
    ("uniqueid", "node"),
    [
        ("pbx2-1763880000.42", "pbx2"),
        ("bj-chaoyang-01-1763880000.7", "bj-chaoyang-01"),
        ("1763880000.42", None),  # Asterisk without systemname
        ("sim-0123456789abcdef-2", None),  # ids chosen by the originator
        ("", None),
        (None, None),
        ("PBX-1.2", None),  # not a valid node name
    ],
)
def test_node_of_uniqueid(uniqueid: str | None, node: str | None) -> None:
    assert node_of_uniqueid(uniqueid) == node


@given(st.from_regex(r"[a-z][a-z0-9_-]{0,31}", fullmatch=True), st.integers(0, 2**40), st.integers(0, 10**6))
def test_every_valid_node_round_trips(node: str, epoch: int, seq: int) -> None:
    assert validate_node(node) == node
    assert node_of_uniqueid(f"{node}-{epoch}.{seq}") == node


@pytest.mark.parametrize("bad", ["", "1pbx", "PBX1", "pbx 1", "pbx;1", "a" * 33, "pbx\n1", "pbx1\n"])
def test_invalid_node_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid node name"):
        validate_node(bad)


def test_settings_refuse_an_invalid_node_name() -> None:
    from pydantic import ValidationError

    from callcenter.config import AsteriskSettings

    assert AsteriskSettings(node="pbx2").node == "pbx2"
    with pytest.raises(ValidationError, match="invalid node name"):
        AsteriskSettings(node="PBX 2")
