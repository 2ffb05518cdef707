"""Prompt texts (语音提示) of the hotline IVR and the case status labels they read out.

Pure data: the provisioning step turns each text into an 8 kHz mono WAV with espeak-ng (``-v cmn``)
unless a real recording with the same name is present in ``asterisk_conf/sounds/``.
"""

from __future__ import annotations

from callcenter.domain.workflow import STATUS_LABELS


def status_labels() -> dict[str, str]:
    """Status -> the Chinese label read out by the IVR: the workflow's own labels (one definition)."""
    return {str(k): str(v) for k, v in STATUS_LABELS.items()}


#: Sound name (relative to the sounds directory, no extension) -> Mandarin text.
PROMPTS: dict[str, str] = {
    "callcenter/welcome-12345": "您好，欢迎致电一二三四五市民服务热线。",
    "callcenter/welcome-96010": "您好，欢迎致电九六零一零服务热线。",
    "callcenter/welcome-default": "您好，欢迎致电市民服务热线。",
    "callcenter/menu": "反映新的问题请按一，查询工单办理进度请按二，预约回拨请按三。",
    "callcenter/invalid": "您的输入有误，请重新输入。",
    "callcenter/describe": "请在提示音后描述您的问题。",
    "callcenter/transfer": "正在为您转接人工服务，请稍候。",
    "callcenter/goodbye": "感谢您的来电，再见。",
    "callcenter/closed": "现在是非受理时间，请在受理时间内来电，再见。",
    "callcenter/queue-timeout": "目前坐席繁忙，我们将尽快给您回电，再见。",
    "callcenter/enter-case-number": "请输入工单编号，以井号键结束。",
    "callcenter/you-entered": "您输入的工单编号是",
    "callcenter/case-not-found": "没有找到这个工单。",
    "callcenter/retry-or-agent": "重新输入请按一，转人工服务请按零。",
    "callcenter/case-status-is": "该工单的办理状态是",
    "callcenter/status-unknown": "状态暂时无法查询",
    "callcenter/after-status": "转人工服务请按零，结束查询请挂机。",
    "callcenter/callback-booked": "已为您登记回拨，我们会尽快与您联系。",
    "callcenter/agent-greeting": "您好，市民服务热线，请讲。",
    "callcenter/rv-intro": "您好，这里是市民服务热线回访。",
    "callcenter/rv-resolved": "您反映的问题是否已经解决？已解决请按一，未解决请按二。",
    "callcenter/rv-satisfaction": "您对办理结果是否满意？满意请按一，基本满意请按二，不满意请按三。",
    "callcenter/rv-thanks": "感谢您的评价，再见。",
    "callcenter/rv-case": "关于您反映的问题，工单编号是",
    "callcenter/rv-say": "您也可以直接说出您的回答。",
    "callcenter/rv-sorry": "没有听清您的回答。",
    "callcenter/qc-booked": "已为您登记回拨，您的排队顺序会为您保留，轮到您时我们会给您回电，再见。",
    "callcenter/qc-connecting": "您好，这里是市民服务热线，您预约的回拨正在为您接通坐席，请稍候。",
    # Mandarin digits for SAY DIGITS / queue position announcements (language "zh").
    **{f"zh/digits/{d}": t for d, t in enumerate("零一二三四五六七八九")},
    "zh/digits/10": "十",
    "zh/digits/hundred": "百",
    "zh/digits/thousand": "千",
    # Queue announcements (app_queue sound names) in Mandarin.
    "zh/queue-youarenext": "您是下一位。",
    "zh/queue-thereare": "您前面还有",
    "zh/queue-callswaiting": "位来电者在等候。",
    "zh/queue-holdtime": "预计等待时间约为",
    "zh/queue-minutes": "分钟",
    "zh/queue-minute": "分钟",
    "zh/queue-seconds": "秒",
    "zh/queue-less-than": "少于",
    "zh/queue-thankyou": "感谢您的耐心等待。",
    "zh/queue-reporthold": "等待时间",
    "zh/queue-periodic-announce": "所有坐席都在忙，请稍候。",
}


def status_prompt_texts() -> dict[str, str]:
    """One prompt per case status: ``callcenter/status-<status>``."""
    return {f"callcenter/status-{status}": label for status, label in status_labels().items()}


def all_prompts() -> dict[str, str]:
    """Every generated prompt (sound name -> text)."""
    return {**PROMPTS, **status_prompt_texts()}
