"""Secrets policy (密钥策略): what production accepts, and the demo's per-installation secrets.

* :func:`weakness` says why a value must not be a production secret (or ``None``): empty, padded with
  whitespace, short, a known default / demo value, too few distinct characters, only common words and
  digits (``password1234``, ``p@ssw0rd!``, ``secret-key-2024``), an alphabet / digit run or repetition
  (``abcdefghijkl``, ``aabbccddeeff``), or too little character entropy. These are heuristics that catch
  the obvious; real secrets come from a generator (``secrets.token_urlsafe(48)``).
* :func:`installation_secret` gives the demo stack one random secret per installation: created once
  under ``security.secrets_dir`` (file mode 0600, folder 0700), read back by every later process, so
  the API, the AMI bridge and the rendered ``manager.conf`` agree without a public constant.

Kept free of heavy imports: :mod:`callcenter.config` uses it while the settings are validated.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import secrets
from collections import Counter
from pathlib import Path

MIN_LENGTH = 12
MIN_DISTINCT = 6
#: Empirical character entropy (Shannon, per character × length), in bits.
MIN_ENTROPY_BITS = 28.0
#: Share of neighbouring characters that repeat or step by one (``aaaa``, ``abcd``, ``4321``).
MAX_RUN_SHARE = 0.7

#: Values published in this repository or its history: never a production secret.
KNOWN_VALUES = frozenset(
    {
        "demo-signing-key-not-for-production",
        "test-signing-key-not-for-production",
        "production-signing-key-not-for-production",
        "demo-ami-secret",
        "test-ami-secret",
        "production-ami-secret",
    }
)

_WORDS = """
    password passwd pass pwd passphrase secret secrets mysecret supersecret admin administrator root
    changeme change default demo test testing tester letmein welcome qwerty qwertyuiop qwertz azerty
    asdf asdfgh asdfghjkl zxcv zxcvbn zxcvbnm qazwsx login logon master hello iloveyou monkey dragon
    football baseball sunshine princess shadow superman batman trustno abc abcd abcdef key keys signing
    sign token jwt hmac ami manager asterisk hotline callcenter call center example sample temp tmp
    guest user users the not for production prod dev development local localhost my your super access
    private public server system none null foo bar baz xxx xyz china beijing
"""
#: Words that make up guessable secrets (lower case; leetspeak is folded before the check).
COMMON_WORDS = frozenset(_WORDS.split())

_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "l", "3": "e", "$": "s", "5": "s", "7": "t"})
_LETTER_RUN = re.compile(r"[a-z]{2,}")


def weakness(value: str) -> str | None:
    """Why ``value`` is not acceptable as a production secret, or ``None`` when it passes."""
    if not value:
        return "empty"
    if value != value.strip():
        return "has leading or trailing whitespace"
    if len(value) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if value.lower() in KNOWN_VALUES or value.lower() in COMMON_WORDS:
        return "a known default or demo value"
    if len(set(value)) < MIN_DISTINCT:
        return f"fewer than {MIN_DISTINCT} distinct characters"
    if _only_common_words(value):
        return "only common words and digits"
    if _run_share(value) >= MAX_RUN_SHARE:
        return "a repeated or sequential pattern"
    if entropy_bits(value) < MIN_ENTROPY_BITS:
        return "too little entropy"
    return None


def entropy_bits(value: str) -> float:
    """Empirical entropy of the characters of ``value`` times its length (a rough strength figure)."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) * n


def _only_common_words(value: str) -> bool:
    """Every letter run is a common word (also after folding leetspeak) and what is left besides them
    (digits, punctuation) is weak on its own: ``password1234``, ``P@ssw0rd!2024``, ``secret-key-2024``."""
    lowered = value.lower()
    for candidate in (lowered, lowered.translate(_LEET)):
        words = _LETTER_RUN.findall(candidate)
        if not words or not all(_common_compound(w) for w in words):
            continue
        rest = _LETTER_RUN.sub("", candidate)
        if entropy_bits(rest) < MIN_ENTROPY_BITS or _run_share(rest) >= MAX_RUN_SHARE:
            return True
    return False


def _common_compound(run: str) -> bool:
    """``run`` is one common word or several glued together (``supersecretpassword``)."""
    ends = {0}
    for end in range(1, len(run) + 1):
        if any(run[start:end] in COMMON_WORDS for start in ends if start < end):
            ends.add(end)
    return len(run) in ends


def _run_share(value: str) -> float:
    steps = [abs(ord(b) - ord(a)) for a, b in itertools.pairwise(value)]
    return sum(1 for s in steps if s <= 1) / len(steps) if steps else 1.0


# --------------------------------------------------------------------------- per-installation secrets


def installation_secret(directory: Path, name: str) -> str:
    """The secret ``name`` of this installation: read from ``directory/name``, created once if missing.

    Creation is atomic (a private temporary file linked into place), so processes starting at the
    same time end up with the same value. The file is readable by its owner only (0600).
    """
    path = directory / name
    value = _read(path)
    if value:
        return value
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its value
            os.link(tmp, path)  # never replaces: the first value written is the installation's
    finally:
        tmp.unlink(missing_ok=True)
    value = _read(path)
    if not value:
        raise ValueError(f"the installation secret {path} is empty: delete it to generate a new one")
    return value


def _read(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"cannot read the installation secret {path}: {exc}") from exc
    if text and path.stat().st_mode & 0o077:
        path.chmod(0o600)  # written by hand or copied: keep it private
    return text or None
