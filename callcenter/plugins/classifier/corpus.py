"""Synthetic training corpus (训练语料) generated from the catalogue: pure, deterministic for a seed.

Three disjoint template families — ``train``, ``calib`` (temperature calibration) and ``test`` (held-out
evaluation) — with their own fillers and closing requests; phrasings of matters with at least three are
split so that the held-out ones never appear in training. ASR-like noise (homophones, missing punctuation,
fillers, stutter) is applied to every split.

The explicit "not a request" class (``OUT_OF_DOMAIN``, 非诉求) is trained from the hand-written utterances
of ``classifier/data/out_of_domain.txt`` (greetings, thanks, chit-chat, ASR junk, wrong numbers, unrelated
questions), combined and noised the same way; a quarter of them is held out for the test split.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from callcenter.catalogue import Catalogue, Matter

#: Label of the "no matter / not a citizen request" class (非诉求). Not a catalogue matter code.
OUT_OF_DOMAIN = "OOD"
#: Classifier-only data (not part of the kernel catalogue).
DATA_DIR = Path(__file__).resolve().parent / "data"
OUT_OF_DOMAIN_FILE = "out_of_domain.txt"

TEMPLATES: dict[str, list[str]] = {
    "train": [
        "{phrase}",
        "{greet}{place}{phrase}",
        "{place}{phrase}，{ask}",
        "{greet}我要反映个事，{place}{phrase}",
        "{phrase}，地址是{place}",
        "我是{place}的居民，{phrase}，{ask}",
        "{filler}{phrase}{filler}{ask}",
        "{place}这边{phrase}好几天了",
        "{greet}{phrase}",
    ],
    "calib": [
        "{greet}，是这样的，{place}{phrase}",
        "{phrase}，就在{place}，{ask}",
        "我想说一下{place}{phrase}的事",
    ],
    "test": [
        "{greet}，{place}那块儿{phrase}，你们管不管",
        "就是说{phrase}，在{place}，{ask}",
        "{phrase}，{place}，{ask}",
        "喂，我打电话是因为{phrase}",
        "{place}{phrase}，已经反映过一次了还是没解决",
    ],
}
FILLERS = {
    "train": ["嗯", "那个", "就是", ""],
    "calib": ["然后", "对", ""],
    "test": ["呃", "这个这个", "怎么说呢", ""],
}
GREETINGS = {
    "train": ["你好", "喂你好", "您好", "你好我想问一下"],
    "calib": ["同志你好", "打扰一下"],
    "test": ["哎你好", "喂是12345吗", "你好啊"],
}
ASKS = {
    "train": ["请尽快处理", "希望有关部门管一管", "麻烦给处理一下", "谢谢"],
    "calib": ["看看怎么解决", "帮忙反映一下"],
    "test": ["赶紧派人来吧", "能不能给协调一下", "这事儿到底归谁管"],
}
#: Typical confusions of speech recognition (同音/近音字).
HOMOPHONES = {
    "噪音": "燥音",
    "扰民": "绕民",
    "油烟": "油盐",
    "井盖": "景盖",
    "物业": "无业",
    "暖气": "暖器",
    "小区": "小曲",
    "路灯": "路登",
    "停电": "停店",
    "工资": "工质",
    "社保": "社宝",
    "垃圾": "拉级",
    "广告": "广搞",
    "违建": "违见",
    "电梯": "电题",
    "占道": "占到",
    "游商": "油商",
    "施工": "师工",
    "扬尘": "扬沉",
    "供暖": "共暖",
    "医院": "一院",
    "投诉": "投书",
    "反映": "反应",
    "地锁": "地所",
    "烧烤": "烧考",
    "拖欠": "拖前",
    "维权": "维全",
    "马路": "马鹿",
}
ROADS = {
    "110101": [
        "东直门外大街",
        "朝阳门北大街",
        "安定门内大街",
        "崇文门外大街",
        "前门大街",
        "南锣鼓巷",
        "和平里东街",
    ],
    "110115": ["兴华大街", "黄村西大街", "京开路", "永兴路", "荣华南路", "金星路"],
    "110116": ["青春路", "府前街", "京加路", "开放路", "迎宾路", "雁栖大街"],
    "510117": ["望丛路", "犀安路", "红光大道", "郫温路", "团结路"],
}
_PUNCT = re.compile(r"[，。！？、,.!?；;：:]")


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    matter_code: str
    split: str
    district_code: str | None = None  # the place written into the text, when there is one
    street_code: str | None = None
    community_code: str | None = None


def _stable(value: str) -> int:
    return int.from_bytes(hashlib.sha1(value.encode()).digest()[:4], "big")


def phrase_pools(matter: Matter) -> dict[str, list[str]]:
    """Train and held-out phrasings of one matter: a quarter (at least one) of the phrasings of a matter that
    has three or more, chosen by a stable hash, is held out of training and used only for the test split."""
    phrasings = list(dict.fromkeys(matter.phrasings))
    n_held = max(1, len(phrasings) // 4) if len(phrasings) >= 3 else 0
    held = sorted(phrasings, key=lambda p: _stable(matter.code + p))[:n_held]
    seen = [p for p in phrasings if p not in held]
    keyword_phrases = [f"{k}的问题" for k in matter.keywords[:4]] + [
        f"{k}没人管" for k in matter.keywords[:2]
    ]
    train = seen + keyword_phrases + list(matter.keywords[:6])
    return {"train": train, "calib": train, "test": held or seen}


_NO_PLACE: tuple[str, str | None, str | None, str | None] = ("", None, None, None)


def _place(
    rng: random.Random, catalogue: Catalogue, districts: Sequence[str], streets: dict[str, list[str]]
) -> tuple[str, str | None, str | None, str | None]:
    """A place phrase and the (district, street, community) codes it names."""
    district = rng.choice(districts)
    dname = catalogue.areas[district].name
    roll = rng.random()
    if roll < 0.25:
        return _NO_PLACE
    street = catalogue.areas[rng.choice(streets[district])]
    if street.handled_by:  # statistical units: callers name the real street
        street = catalogue.areas[street.handled_by]
    if roll < 0.45:
        return f"{dname}{street.name}", district, street.code, None
    if roll < 0.65:
        if rng.random() < 0.5:
            return f"{dname}{rng.choice(ROADS[district])}", district, None, None
        return f"{dname}{street.name}{rng.choice(ROADS[district])}", district, street.code, None
    if roll < 0.85:
        communities = catalogue.children(street.code)
        if communities:
            community = catalogue.areas[rng.choice(communities)]
            village = community.name.endswith(("村委会", "村民委员会"))
            name = re.sub(
                r"(社区居民委员会|居民委员会|社区居委会|居委会|村民委员会|村委会|社区社区)$",
                "",
                community.name,
            )
            suffix = ("" if name.endswith("村") else "村") if village else "小区"
            return (
                f"{street.name}{name}{suffix}{rng.randint(1, 30)}号楼",
                district,
                street.code,
                community.code,
            )
    return f"{dname}{street.name}附近", district, street.code, None


def add_noise(text: str, rng: random.Random, strength: float = 1.0) -> str:
    """ASR-like noise: homophones, dropped punctuation, fillers, stutter."""
    for word, confusion in HOMOPHONES.items():
        if word in text and rng.random() < 0.15 * strength:
            text = text.replace(word, confusion, 1)
    if rng.random() < 0.5 * strength:
        text = _PUNCT.sub(rng.choice(["", " "]), text)
    if rng.random() < 0.2 * strength and len(text) > 4:
        pos = rng.randrange(1, len(text) - 1)
        text = text[:pos] + rng.choice(["嗯", "呃", "啊"]) + text[pos:]
    if rng.random() < 0.1 * strength and len(text) > 4:
        pos = rng.randrange(0, len(text) - 2)
        text = text[:pos] + text[pos] + text[pos:]
    return text


def generate(
    catalogue: Catalogue,
    per_matter: dict[str, int] | None = None,
    seed: int = 12345,
    noise: float = 1.0,
) -> list[Sample]:
    """Samples for every matter and split: ``per_matter`` = {"train": n, "calib": n, "test": n}."""
    counts = per_matter or {"train": 40, "calib": 4, "test": 8}
    rng = random.Random(seed)
    districts = sorted(a.code for a in catalogue.areas.values() if a.level == "district")
    streets = {
        d: [c for c in catalogue.children(d) if catalogue.areas[c].level == "street"] for d in districts
    }
    samples: list[Sample] = []
    for matter in catalogue.matters.values():
        pools = phrase_pools(matter)
        for split, n in counts.items():
            pool = pools[split]
            for i in range(n):
                template = TEMPLATES[split][(i + rng.randrange(3)) % len(TEMPLATES[split])]
                place, district, street, community = _place(rng, catalogue, districts, streets)
                if "{place}" not in template:
                    district = street = community = None
                text = template.format(
                    phrase=pool[i % len(pool)] if i < len(pool) else rng.choice(pool),
                    place=place,
                    greet=rng.choice(GREETINGS[split]),
                    filler=rng.choice(FILLERS[split]),
                    ask=rng.choice(ASKS[split]),
                )
                noisy = add_noise(text, rng, noise)
                samples.append(Sample(noisy, matter.code, split, district, street, community))
    return samples


def feedback_samples(
    catalogue: Catalogue, rows: Iterable[object], repeat: int = 3
) -> tuple[list[Sample], int]:
    """Agent-confirmed examples (人工确认样本): rows with ``text`` and ``matter_code`` (objects or mappings).

    Returns (samples, skipped) — rows with an unknown matter or unusable text are skipped.
    """
    from callcenter.plugins.classifier.text import NoSuggestion, check_text

    out: list[Sample] = []
    skipped = 0
    for row in rows:
        if isinstance(row, dict):
            code, text = row.get("matter_code"), row.get("text")
        else:
            code, text = getattr(row, "matter_code", None), getattr(row, "text", None)
        try:
            clean = check_text(text)
        except NoSuggestion:
            skipped += 1
            continue
        if code not in catalogue.matters:
            skipped += 1
            continue
        out.extend(Sample(clean, code, "train") for _ in range(repeat))
    return out, skipped


# ---------------------------------------------------------------------------------------------------------
# out-of-domain class (非诉求语句)
# ---------------------------------------------------------------------------------------------------------


def load_out_of_domain(path: Path | str | None = None) -> list[tuple[str, str]]:
    """The hand-written out-of-domain utterances as (kind, text); see the header of the file."""
    file = Path(path) if path else DATA_DIR / OUT_OF_DOMAIN_FILE
    rows: list[tuple[str, str]] = []
    for line in file.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, _, text = line.partition("\t")
        if text.strip():
            rows.append((kind.strip(), text.strip()))
    return rows


def out_of_domain_pools(rows: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Train / held-out utterances: a quarter of each kind (stable hash) is used only by the test split."""
    by_kind: dict[str, list[str]] = {}
    for kind, text in rows:
        by_kind.setdefault(kind, []).append(text)
    train: list[str] = []
    test: list[str] = []
    for kind in sorted(by_kind):
        texts = sorted(dict.fromkeys(by_kind[kind]), key=lambda t: _stable("OOD" + t))
        n_held = max(1, len(texts) // 4)
        test.extend(texts[:n_held])
        train.extend(texts[n_held:])
    return {"train": train, "calib": train, "test": test}


#: Out-of-domain samples per split = factor × the per-matter count of that split.
OOD_FACTOR = {"train": 30, "calib": 50, "test": 25}


def generate_out_of_domain(
    catalogue: Catalogue,
    per_matter: dict[str, int] | None = None,
    seed: int = 12345,
    noise: float = 1.0,
    rows: Sequence[tuple[str, str]] | None = None,
) -> list[Sample]:
    """Samples of the ``OUT_OF_DOMAIN`` class: single utterances, two or three of them in a row (a caller
    greeting, chatting and thanking), with the split's greetings and fillers and sometimes a place name
    without any matter (a place alone is not a request), then the same ASR-like noise as the matters."""
    counts = per_matter or {"train": 40, "calib": 4, "test": 8}
    pools = out_of_domain_pools(rows if rows is not None else load_out_of_domain())
    rng = random.Random(seed + 1)
    districts = sorted(a.code for a in catalogue.areas.values() if a.level == "district")
    streets = {
        d: [c for c in catalogue.children(d) if catalogue.areas[c].level == "street"] for d in districts
    }
    samples: list[Sample] = []
    for split, n_matter in counts.items():
        pool = pools[split]
        n = OOD_FACTOR.get(split, 10) * n_matter
        for i in range(n):
            first = pool[i % len(pool)] if i < len(pool) else rng.choice(pool)
            roll = rng.random()
            if roll < 0.45:
                text = first
            elif roll < 0.65:
                text = f"{rng.choice(GREETINGS[split])}，{first}"
            elif roll < 0.85:
                parts = [first] + [rng.choice(pool) for _ in range(rng.randint(1, 2))]
                text = rng.choice(["，", " ", "。"]).join(parts)
            elif roll < 0.93:
                text = f"{rng.choice(FILLERS[split])}{first}{rng.choice(FILLERS[split])}"
            else:
                place = _place(rng, catalogue, districts, streets)[0]
                text = f"我是{place}的，{first}" if place else first
            samples.append(Sample(add_noise(text, rng, noise), OUT_OF_DOMAIN, split))
    return samples


#: Requests wrapped in chit-chat per split = factor × the per-matter count of that split.
MIXED_FACTOR = {"train": 40, "calib": 30}


def mix_requests(
    samples: Sequence[Sample],
    per_matter: dict[str, int] | None = None,
    seed: int = 12345,
    rows: Sequence[tuple[str, str]] | None = None,
) -> list[Sample]:
    """Requests with out-of-domain utterances before and/or after them (你好…今天真热…楼下油烟太大…谢谢),
    keeping the request's matter: a request surrounded by chit-chat is still a request. Drawn from the
    ``train`` and ``calib`` samples with the same split's out-of-domain utterances (never ``test``)."""
    counts = per_matter or {"train": 40, "calib": 4, "test": 8}
    pools = out_of_domain_pools(rows if rows is not None else load_out_of_domain())
    rng = random.Random(seed + 2)
    out: list[Sample] = []
    for split, factor in MIXED_FACTOR.items():
        source = [s for s in samples if s.split == split]
        if not source:
            continue
        for _ in range(factor * counts.get(split, 0)):
            base = rng.choice(source)
            before = rng.choice(pools[split]) if rng.random() < 0.7 else ""
            after = rng.choice(pools[split]) if not before or rng.random() < 0.4 else ""
            sep = rng.choice(["，", " ", "。", ""])
            text = sep.join(p for p in (before, base.text, after) if p)
            out.append(
                Sample(
                    text, base.matter_code, split, base.district_code, base.street_code, base.community_code
                )
            )
    return out


def short_requests(catalogue: Catalogue, per_matter: int = 1, seed: int = 12345) -> list[Sample]:
    """Bare requests for the ``calib`` split (井盖丢了, 电梯坏了): a training phrasing or keyword with noise
    and nothing around it. Callers often say just that, and the out-of-domain gate must not learn from the
    calibration templates (always with a greeting or a place) that a short text is not a request."""
    rng = random.Random(seed + 3)
    out: list[Sample] = []
    for matter in catalogue.matters.values():
        pool = phrase_pools(matter)["calib"]
        for _ in range(per_matter):
            out.append(Sample(add_noise(rng.choice(pool), rng), matter.code, "calib"))
    return out


# ---------------------------------------------------------------------------------------------------------
# citizen-style messages written by the team (市民留言语料)
# ---------------------------------------------------------------------------------------------------------

#: Folder of the team-written citizen messages (``*.jsonl``); provenance in its README.md.
CITIZEN_DIR = "citizen_corpus"
#: Share of the citizen messages (stable hash of the id) kept out of training: the ``heldout`` split,
#: scored by every training run (``metrics["citizen_heldout"]``).
CITIZEN_HELDOUT_SHARE = 0.15


@dataclass(frozen=True, slots=True)
class CitizenMessage:
    """One team-written citizen message (留言: subject + detail) with the category a dispatcher would pick
    and, where one fits, the matter."""

    id: str
    subject: str
    detail: str
    category_code: str
    matter_code: str | None
    request_type: str

    @property
    def split(self) -> str:
        """``heldout`` for about ``CITIZEN_HELDOUT_SHARE`` of the ids (stable hash), else ``train``."""
        return "heldout" if _stable("CIT" + self.id) % 1000 < CITIZEN_HELDOUT_SHARE * 1000 else "train"

    def views(self) -> list[str]:
        """The texts trained on: the whole message (subject + detail, as the suggester sees a 留言), the
        subject alone and the detail alone (a call transcript has no subject line)."""
        views = [f"{self.subject}。{self.detail}" if self.subject else self.detail, self.detail]
        if self.subject:
            views.append(self.subject)
        return views


def load_citizen_messages(
    catalogue: Catalogue, folder: Path | str | None = None, *, only_categories: Iterable[str] | None = None
) -> list[CitizenMessage]:
    """The team-written citizen messages of ``classifier/data/citizen_corpus/*.jsonl``.

    Raises ``ValueError`` naming file and line for a malformed line, an unknown category, or a matter that
    is not in the catalogue or not in the message's category: the corpus is committed data, a mistake in it
    must not train silently (its test loads it against the shipped catalogue).

    ``only_categories``: the corpus is labelled against the shipped catalogue; training against another one
    (a center's own, a test's) passes the codes of the categories that mean the same there (same code and
    name): only their messages are kept, and a matter the catalogue does not have in that category is
    dropped (the message then trains the category head only). Malformed lines still raise."""
    import json

    root = Path(folder) if folder else DATA_DIR / CITIZEN_DIR
    keep = None if only_categories is None else set(only_categories)
    out: list[CitizenMessage] = []
    seen: set[str] = set()
    for file in sorted(root.glob("*.jsonl")):
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{file.name} line {n}"
            try:
                row = json.loads(line)
                msg = CitizenMessage(
                    str(row["id"]),
                    str(row.get("subject") or "").strip(),
                    str(row["detail"]).strip(),
                    str(row["category"]),
                    row.get("matter") or None,
                    str(row.get("request_type") or ""),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{where}: not a citizen message ({exc})") from None
            if keep is not None and msg.category_code not in keep:
                continue
            if msg.category_code not in catalogue.categories:
                raise ValueError(f"{where}: unknown category {msg.category_code!r}")
            matter = catalogue.matters.get(msg.matter_code) if msg.matter_code else None
            if msg.matter_code and (matter is None or matter.category_code != msg.category_code):
                if keep is None:
                    raise ValueError(
                        f"{where}: matter {msg.matter_code!r} is not in category {msg.category_code}"
                    )
                msg = replace(msg, matter_code=None)
            if not msg.detail or msg.id in seen:
                raise ValueError(f"{where}: empty detail or repeated id {msg.id!r}")
            seen.add(msg.id)
            out.append(msg)
    return out
