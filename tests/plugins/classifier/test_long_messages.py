"""Long citizen messages (issue 16): sentence segmentation, request type, agency evidence (pure), and the
suggester's new outputs on the session model (categories, request type, second request, subject)."""

from __future__ import annotations

from callcenter.plugins.classifier.longtext import agency_categories, request_type, sentences
from callcenter.plugins.classifier.suggester import Suggester

LONG_DETAIL = (
    "我是这个小区的老住户了，在这儿住了二十多年。以前小区环境一直挺好的，邻里关系也不错。"
    "这两年换了物业以后，情况越来越差。从上个月开始，我们楼的电梯三天两头就坏，"
    "上周三又停了整整一天，楼里好几位八十多岁的老人只能爬楼梯，有一位还在楼道里摔了一跤。"
    "我们给物业打了很多次电话，每次都说马上派人来修，结果一拖再拖。请有关部门督促物业尽快把电梯修好。"
)


def test_sentences_glue_short_pieces() -> None:
    assert sentences("停水了。啊！小区三天没有水了，怎么办？") == [
        "停水了。啊！",
        "小区三天没有水了，怎么办？",
    ]
    assert sentences("短") == ["短"]
    assert sentences("第一句话很长很长。\n第二句话也很长很长") == ["第一句话很长很长。", "第二句话也很长很长"]


def test_request_type_cues() -> None:
    assert request_type("建议在路口增设红绿灯", "车多人多，很危险")[0] == "建议"
    assert request_type("咨询公积金提取", "请问需要什么材料？")[0] == "咨询"
    assert request_type("表扬社区王书记", "非常感谢他帮我们解决了问题")[0] == "表扬"
    assert request_type("求助：老人走失", "实在没办法了，求求你们帮帮忙")[0] == "求助"
    kind, score = request_type("楼下饭馆油烟太大", "每天晚上都是油烟味")
    assert kind == "投诉" and 0 < score <= 1


def test_request_type_blends_the_learned_head_with_the_cues() -> None:
    even = {"投诉": 0.3, "建议": 0.3, "咨询": 0.2, "求助": 0.1, "表扬": 0.1}
    # a tie of the head is broken by the cue rule (建议在…增设)
    assert request_type("建议在路口增设红绿灯", "车多", even) == ("建议", 0.3)
    # a clear head wins over a cue word (投诉 in a thank-you letter), the score is the head's probability
    sure = {"投诉": 0.05, "建议": 0.02, "咨询": 0.02, "求助": 0.01, "表扬": 0.9}
    assert request_type("之前投诉的事解决了", "非常感谢", sure) == ("表扬", 0.9)
    assert request_type("之前投诉的事解决了", "非常感谢")[0] == "投诉"  # the rule alone


def test_long_message_request_type_from_the_model(suggester: Suggester) -> None:
    r = suggester.suggest(
        "上个月我反映的小区门口路灯不亮的问题，街道的同志第二天就派人修好了，工作人员态度也很好。",
        subject="感谢街道及时处理",
    )
    assert r.request_type == "表扬" and r.request_type_score is not None
    assert suggester.model.request_type_classes is not None


def test_agency_names_longest_first() -> None:
    found = agency_categories("我打了交通运输局的电话，又找了派出所和邮政管理局")
    assert found == {"交通运输局": "15", "派出所": "24", "邮政管理局": "15"}
    assert agency_categories("今天天气不错") == {}


def test_long_message_has_categories_and_request_type(suggester: Suggester) -> None:
    r = suggester.suggest(LONG_DETAIL, subject="小区电梯经常坏物业不修")
    d = r.to_dict()
    assert d["matters"] and len(d["categories"]) == 3
    assert d["categories"][0]["code"] == d["matters"][0]["code"][:2]  # category before matter
    assert d["categories"][0]["code"] == "11"  # 住房与物业
    assert d["request_type"] == "投诉"
    assert 0 < d["confidence"] <= d["categories"][0]["score"] + 1e-9


def test_subject_counts_and_batch_equals_single(suggester: Suggester) -> None:
    texts = [LONG_DETAIL, "东城区景山街道路灯不亮了"]
    subjects: list[str | None] = ["小区电梯经常坏物业不修", None]
    batch = suggester.suggest_many(texts, subjects=subjects)
    single = [suggester.suggest(t, subject=s) for t, s in zip(texts, subjects, strict=True)]
    assert [r.to_dict() for r in batch] == [r.to_dict() for r in single]
    assert batch[1].matters[0].name == "路灯异常"


def test_proposal_is_typed_not_a_complaint(suggester: Suggester) -> None:
    r = suggester.suggest(
        "我家附近的公交站离小区有一公里多，老人孩子坐车很不方便。建议公交公司在小区门口增设一个站点。",
        subject="建议在小区门口增设公交站",
    )
    assert r.request_type == "建议"
    assert "15" in [c for c, _, _ in r.category_ranking] or "02" in [c for c, _, _ in r.category_ranking]


def test_second_request_is_offered(suggester: Suggester) -> None:
    r = suggester.suggest(
        "我们小区这个月已经停水三次了，每次停水都没有提前通知，家里老人做饭洗澡都成问题。"
        "另外，学校门口早上送孩子的时候总有黑车拉客，孩子上学很不安全。",
        subject="小区频繁停水",
    )
    assert r.second_request is not None
    d = r.to_dict()["second_request"]
    assert d["category"] != r.category_ranking[0][0]
    assert "另外" in d["sentence"] and d["matter"]["code"][:2] == d["category"]


def test_chit_chat_is_still_rejected(suggester: Suggester) -> None:
    r = suggester.suggest("每一天都要快乐喔")
    assert r.no_suggestion_reason == "out_of_domain" and not r.auto_dispatch
