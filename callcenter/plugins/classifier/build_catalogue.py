"""Build the matter catalogue (事项目录), units (承办单位), responsibility list (权责清单) and gazetteer.

Run ``python -m callcenter.plugins.classifier.build_catalogue`` (or ``callcenter catalogue-build``) to
regenerate the CSV files
under ``classifier/data/`` from the shared reference data (``../shared/data``) plus the hand-written
tables in this module. The generated CSVs are committed; this script is how they were made.

Sources (see ``classifier/data/PROVENANCE.md``):

* GB/T 47678.5-2026 管理部件和事项 (250 管理事项 → categories 01-10),
* the 2020 Teddy Cup 15/103/390 government-message label tree (→ categories 11-29),
* matters named in the project's source documents (油烟扰民, 电梯故障, 停水停电, 拖欠工资 …),
* NBS 2023 administrative division codes (WTFPL) for the four seed districts.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SHARED_DIR = Path(__file__).resolve().parents[4] / "shared" / "data"

SEED_DISTRICTS = {"110101": "东城区", "110115": "大兴区", "110116": "怀柔区", "510117": "郫都区"}
DISTRICT_CITY = {"110101": "1101", "110115": "1101", "110116": "1101", "510117": "5101"}
CITY_NAMES = {"1101": ("北京市", "11"), "5101": ("成都市", "51")}
PROVINCE_NAMES = {"11": "北京市", "51": "四川省"}

#: Statistical units that are not case-handling street offices → the street office that handles cases there.
#: Hand mapping (see PROVENANCE.md): to be confirmed with the district before production use.
HANDLED_BY = {
    "110115403": ("110115004", "北京经济技术开发区 (统计单位，虚拟社区) → 亦庄地区办事处"),
    "110115404": ("110115005", "生物医药产业基地 (统计单位) → 黄村地区办事处"),
    "110115405": ("110115005", "大兴经济开发区 (统计单位) → 黄村地区办事处"),
    "110115406": ("110115107", "大兴国际机场 (统计单位) → 榆垡镇"),
    "110116400": ("110116004", "北京雁栖经济开发区 (统计单位) → 雁栖地区办事处"),
}

# --------------------------------------------------------------------------------------------------
# 29 categories (大类)
# --------------------------------------------------------------------------------------------------
CATEGORIES: list[tuple[str, str]] = [
    ("01", "市政公用设施"),
    ("02", "交通设施"),
    ("03", "市容环卫设施"),
    ("04", "园林绿化设施"),
    ("05", "其他管理部件"),
    ("06", "市容环境"),
    ("07", "宣传广告"),
    ("08", "施工管理"),
    ("09", "街面秩序"),
    ("10", "城市管理其他事项"),
    ("11", "住房与物业"),
    ("12", "城乡规划与建设"),
    ("13", "水电气热公共服务"),
    ("14", "生态环境"),
    ("15", "交通运输"),
    ("16", "教育"),
    ("17", "文化体育旅游"),
    ("18", "劳动就业与工资"),
    ("19", "社会保险与退休"),
    ("20", "医疗卫生"),
    ("21", "食品药品安全"),
    ("22", "市场监管与消费维权"),
    ("23", "民政与社会服务"),
    ("24", "公安与社会治安"),
    ("25", "司法与法律服务"),
    ("26", "农业农村与自然资源"),
    ("27", "经济金融与安全生产"),
    ("28", "科技通信与网络"),
    ("29", "党务政务与监督"),
]

GB_CATEGORY = {
    "市政公用设施类": "01",
    "交通设施类": "02",
    "市容环卫设施类": "03",
    "园林绿化设施类": "04",
    "其他管理部件类": "05",
    "市容环境类": "06",
    "宣传广告类": "07",
    "施工管理类": "08",
    "街面秩序类": "09",
    "其他事项类": "10",
}

# --------------------------------------------------------------------------------------------------
# Industries (行业) → district bureau names (Beijing, Chengdu) or utilities
# --------------------------------------------------------------------------------------------------
BUREAUS: dict[str, tuple[str, str, str]] = {
    # key: (code suffix, Beijing district name, Chengdu district name)
    "城管": ("CGW", "城市管理委员会", "城市管理局"),
    "城管执法": ("CGZF", "城市管理综合行政执法局", "综合行政执法局"),
    "住建": ("ZJW", "住房和城乡建设委员会", "住房和城乡建设局"),
    "交通": ("JTW", "交通委员会", "交通运输局"),
    "园林": ("YLJ", "园林绿化局", "公园城市局"),
    "水务": ("SWJ", "水务局", "水务局"),
    "生态环境": ("STHJ", "生态环境局", "生态环境局"),
    "市场监管": ("SCJG", "市场监督管理局", "市场监督管理局"),
    "人社": ("RSJ", "人力资源和社会保障局", "人力资源和社会保障局"),
    "医保": ("YBJ", "医疗保障局", "医疗保障局"),
    "卫健": ("WJW", "卫生健康委员会", "卫生健康局"),
    "教育": ("JW", "教育委员会", "教育局"),
    "民政": ("MZJ", "民政局", "民政局"),
    "退役军人": ("TYJR", "退役军人事务局", "退役军人事务局"),
    "公安": ("GA", "公安分局", "公安分局"),
    "司法": ("SFJ", "司法局", "司法局"),
    "文旅": ("WLJ", "文化和旅游局", "文化广电旅游局"),
    "体育": ("TYJ", "体育局", "体育局"),
    "规划": ("GHZY", "规划和自然资源分局", "规划和自然资源局"),
    "农业农村": ("NYNC", "农业农村局", "农业农村局"),
    "应急": ("YJJ", "应急管理局", "应急管理局"),
    "发改": ("FGW", "发展和改革委员会", "发展和改革局"),
    "科信": ("KXJ", "科学技术和信息化局", "经济和信息化局"),
    "政务": ("ZFB", "人民政府办公室", "人民政府办公室"),
    "纪检": ("JWJW", "纪委监委", "纪委监委"),
}
#: Utilities (公共服务企业) per city: industry → (code, name, phone)
UTILITIES: dict[str, dict[str, tuple[str, str, str]]] = {
    "1101": {
        "供水": ("U1101-WATER", "北京市自来水集团", "96116"),
        "供电": ("U1101-POWER", "国网北京市电力公司", "95598"),
        "燃气": ("U1101-GAS", "北京市燃气集团", "96777"),
        "供热": ("U1101-HEAT", "北京市热力集团", "96069"),
    },
    "5101": {
        "供水": ("U5101-WATER", "成都市自来水有限责任公司", ""),
        "供电": ("U5101-POWER", "国网四川省电力公司成都供电公司", "95598"),
        "燃气": ("U5101-GAS", "成都燃气集团", ""),
        # Chengdu has no municipal district heating: 供热 falls back to the district center.
    },
}


def bureau_name(district_code: str, industry: str) -> str:
    district = SEED_DISTRICTS[district_code]
    _suffix, beijing, chengdu = BUREAUS[industry]
    if industry == "公安":
        return (
            f"北京市公安局{district[:-1]}分局"
            if district_code.startswith("11")
            else f"成都市公安局{district}分局"
        )
    if industry == "规划" and district_code.startswith("11"):
        return f"北京市规划和自然资源委员会{district[:-1]}分局"
    return district + (beijing if district_code.startswith("11") else chengdu)


def bureau_code(district_code: str, industry: str) -> str:
    return f"{district_code}-{BUREAUS[industry][0]}"


def center_code(district_code: str) -> str:
    return f"{district_code}-12345"


# --------------------------------------------------------------------------------------------------
# Hand-written knowledge: synonyms, colloquial phrasings, owner rules
# --------------------------------------------------------------------------------------------------
#: Matter name → (extra keywords/synonyms, colloquial phrasings). Phrasings are how callers say it.
HAND: dict[str, tuple[list[str], list[str]]] = {
    # 06 市容环境
    "私搭乱建": (
        ["违章建筑", "违建", "私搭乱盖", "乱搭乱建", "加盖", "违法建设"],
        [
            "楼下有人私搭乱建盖了个小房子",
            "邻居在院里加盖了一间房",
            "楼顶上有人盖违建",
            "一楼住户把院子圈起来搭了棚子",
        ],
    ),
    "店面无证装修": (["无证装修", "店面装修"], ["沿街商铺装修也没手续", "门脸房装修没有审批"]),
    "违章接坡": (["接坡", "私接坡道"], ["门口私自砌了一个坡道", "商户在马路牙子上接坡"]),
    "建筑物外立面污损": (["外立面", "墙面脏"], ["楼的外墙皮脱落了很脏", "沿街楼外立面乱七八糟"]),
    "临街阳台、屋顶脏乱差": (["阳台脏乱", "屋顶杂物"], ["临街阳台堆满了破烂", "楼顶上堆了好多杂物"]),
    "擅自在临街的建筑物上挂彩旗": (["挂彩旗", "彩旗"], ["临街楼上挂了一排彩旗", "商铺在楼上乱挂彩旗"]),
    "沿街晾挂": (["晾衣服", "晾晒", "晾挂"], ["有人在街边树上晾衣服被子", "沿街晾晒衣物很难看"]),
    "擅自架设管线、杆线设施": (
        ["私拉电线", "飞线", "架设管线"],
        ["有人私拉电线从楼上扯下来", "街上有人私自架了线杆"],
    ),
    "空调室外机低挂": (
        ["空调外机", "外机低挂"],
        ["空调外机挂得太低往人行道上滴水", "空调室外机装得太低碰头"],
    ),
    "暴露垃圾": (["垃圾", "乱扔垃圾", "垃圾堆"], ["路边一堆垃圾没人清", "马路边有人乱扔垃圾好几天了"]),
    "积存垃圾渣土": (
        ["渣土", "建筑垃圾", "积存垃圾"],
        ["空地上堆了好多建筑垃圾", "渣土堆了一个多月没人拉走"],
    ),
    "道路不洁": (["路面脏", "道路不干净", "没人扫"], ["这条路好久没人扫了特别脏", "马路上全是泥和树叶"]),
    "道路破损": (
        ["路面坑洼", "大坑", "坑", "路坏了"],
        ["路上有个大坑差点把车颠坏", "马路坑坑洼洼的好久没修", "路面塌了一块"],
    ),
    "道路遗撒（洒）": (["遗撒", "撒漏"], ["拉土的车一路撒了一地", "渣土车把土撒得满马路都是"]),
    "交通标线不清晰": (["标线", "斑马线看不清"], ["路口的斑马线都磨没了", "路面的白线看不清楚"]),
    "绿地脏乱": (["绿地垃圾", "草坪脏"], ["绿地里全是垃圾", "草坪上扔满了塑料袋"]),
    "非装饰性吊挂": (["吊挂", "树上挂东西"], ["有人在树上挂了好多东西", "电线杆上挂了乱七八糟的东西"]),
    "焚烧垃圾、树叶": (["烧垃圾", "焚烧", "烧树叶"], ["有人在路边烧垃圾烟特别大", "楼下有人烧树叶呛得不行"]),
    "病虫害": (["虫子", "病虫害", "杨树毛毛虫"], ["小区的树上全是虫子往下掉", "行道树长虫了叶子都被吃光了"]),
    "非法伐树": (["砍树", "伐树", "盗伐"], ["有人在偷偷砍树", "小区里的大树被人砍了"]),
    "水域不洁": (["河里垃圾", "水面漂浮物"], ["河面上漂着好多垃圾", "湖里全是塑料瓶"]),
    "河道污染": (["河水发臭", "河道污染", "黑臭水体"], ["河水又黑又臭", "有人往河里排脏水"]),
    "油烟污染": (
        ["油烟扰民", "餐饮油烟", "油烟", "排烟"],
        ["楼下饭馆的油烟都飘到我家里了", "餐馆排油烟直冲我们窗户", "烧烤店油烟太大熏得没法开窗"],
    ),
    "噪声扰民": (
        ["噪声扰民", "噪音扰民", "噪音", "太吵", "吵"],
        ["楼下歌厅每天晚上太吵了睡不着觉", "广场舞的音响声音太大了", "商户大喇叭一直喊吵死了"],
    ),
    "露天烧烤": (["烧烤", "撸串"], ["街边有人摆摊露天烧烤", "晚上马路边烤串烟熏火燎"]),
    "乱倒乱排污水、废水": (["排污水", "倒脏水"], ["饭馆往雨水口里倒泔水", "有人往马路上排污水"]),
    "乱丢弃医疗废物": (["医疗垃圾", "针头"], ["诊所把针头输液瓶扔在垃圾桶", "路边有人扔医疗废物"]),
    "废弃车辆": (
        ["僵尸车", "废弃车", "废旧自行车"],
        ["小区里有辆僵尸车停了好几年", "路边一辆破车好久没人动了"],
    ),
    "废弃家具设备": (["旧家具", "废旧沙发"], ["楼道口扔了一堆旧沙发床垫", "有人把旧家具扔在路边"]),
    "乱堆杂物": (["堆物", "楼道堆物", "杂物"], ["楼道里堆满了杂物过不去人", "有人在路边乱堆东西"]),
    "动物尸体": (["死猫", "死狗", "动物尸体"], ["马路上有只死猫没人管", "路边有条死狗都臭了"]),
    "擅自饲养家禽家畜": (["养鸡", "养鸽子", "家禽"], ["邻居在楼顶养鸽子味道大", "有人在小区里养鸡养鸭"]),
    "私设地锁、阻车桩": (
        ["地锁", "私装地锁", "阻车桩", "占车位"],
        ["小区里有人私装地锁占车位", "路边车位被人安了地锁", "有人在公共车位上装了个锁"],
    ),
    "垃圾未分类": (["垃圾分类", "混装混运"], ["小区垃圾桶根本不分类", "垃圾车把分好的垃圾又混在一起拉走了"]),
    "垃圾站（箱）满溢": (
        ["垃圾满了", "垃圾桶满溢"],
        ["垃圾桶都满了好几天没人清运", "垃圾站的垃圾都溢出来了"],
    ),
    "非法占绿毁绿": (["毁绿", "占绿地", "种菜"], ["有人把绿地刨了种菜", "商户把草坪铲了当停车场"]),
    "占用河道": (["占河道"], ["有人在河道里堆东西盖房子"]),
    "公园秩序": (["公园", "公园里"], ["公园里有人遛狗不拴绳", "公园里有人乱摆摊"]),
    # 07 宣传广告
    "非法小广告": (
        ["小广告", "牛皮癣", "办证广告", "喷涂"],
        ["楼道里贴满了小广告", "墙上到处喷的办证电话", "电线杆上全是牛皮癣"],
    ),
    "街头散发广告": (["发传单", "散发广告"], ["路口有人一直发传单", "有人往车上塞小卡片"]),
    "违规户外广告": (["户外广告", "广告牌"], ["楼顶的大广告牌快掉下来了", "路边立了个违规广告牌"]),
    "违规牌匾标识": (["牌匾", "招牌"], ["商店的招牌歪了要掉下来", "门脸的牌匾没审批"]),
    # 08 施工管理
    "施工扰民": (
        ["夜间施工", "施工噪音", "施工扰民"],
        ["工地半夜还在施工吵得睡不着", "晚上十一点了工地还在打桩", "附近工地夜里施工噪音特别大"],
    ),
    "施工占道": (["施工占路"], ["施工把半条马路都占了"]),
    "无证掘路": (["挖路", "掘路"], ["有人在路上挖沟也没挡着", "马路被挖开好几天没人管"]),
    "工地扬尘": (["扬尘", "工地扬尘", "尘土飞扬"], ["工地没盖防尘网尘土满天飞", "工地扬尘太大窗户都不敢开"]),
    "渣土运输车辆未安装密闭装置": (["渣土车", "没苫盖"], ["渣土车没盖布一路掉土"]),
    "施工工地车轮夹带": (["带泥上路"], ["工地出来的车带了一路的泥"]),
    "无证建设": (["没有施工许可"], ["旁边在盖楼也没看到施工许可证"]),
    # 09 街面秩序
    "无照经营游商": (
        ["游商", "街头游商", "无照游商", "小商贩", "流动摊贩", "摆摊"],
        ["地铁口有好多小商贩摆摊", "路边全是卖水果的流动摊贩", "天桥上有无照游商在卖东西"],
    ),
    "早（夜）市管理问题": (["夜市", "早市"], ["夜市到半夜还不收摊", "早市收摊后垃圾满地"]),
    "流浪乞讨": (["乞讨", "流浪汉"], ["路口有个流浪汉睡在地上", "天桥上有人乞讨"]),
    "废品收购乱象": (["收废品", "废品站"], ["收废品的把东西堆了一路", "小区边上有个废品站又脏又乱"]),
    "店外经营": (
        ["店外经营", "出摊经营", "超出门店"],
        ["饭馆把桌子摆到人行道上了", "水果店把货摆到门外占了人行道", "商户店外经营占道"],
    ),
    "占道经营": (["占道经营", "占道", "马路市场"], ["商贩占着马路卖菜", "有人占道经营堵了半条路"]),
    "机动车乱停放": (
        ["乱停车", "违停", "挡道"],
        ["有辆车堵在我们小区门口出不去", "人行道上停满了车", "有人把车停在消防栓前面"],
    ),
    "非机动车乱停放": (["电动车乱停"], ["电动车在楼道里乱停", "自行车停得满地都是"]),
    "共享单车乱象": (["共享单车", "单车堆积", "小黄车"], ["地铁口共享单车堆成山了", "共享单车乱停把路堵了"]),
    "占用消防通道": (["消防通道", "生命通道"], ["小区消防通道被车堵死了", "有人在消防通道上堆东西"]),
    "无证餐饮": (["无证饭馆"], ["这家饭馆没有营业执照还在卖"]),
    "违规设置停车场": (["私设停车场", "乱收停车费"], ["有人在空地上私设停车场乱收费"]),
    "占道洗车": (["洗车"], ["路边有人占道洗车满地是水"]),
    # 10
    "道路积雪、结冰": (["积雪", "结冰", "路滑"], ["路面结冰了好多人摔倒", "下雪以后这条路的雪一直没人扫"]),
    "架空线缆脱落": (
        ["电线掉了", "线缆脱落", "飞线"],
        ["电线杆上的线耷拉下来快碰到人了", "通信线缆掉到地上了"],
    ),
    # Teddy Cup labels with colloquial synonyms
    "官僚主义": (
        ["推诿扯皮", "门难进", "脸难看", "不作为", "踢皮球"],
        ["去办事工作人员互相踢皮球", "部门之间推来推去没人管"],
    ),
    "形式主义": (["走过场", "填表", "留痕"], ["天天让我们填表拍照走过场"]),
    "景区管理": (["景区", "景点", "门票", "强制消费"], ["景区里到处是拉客的", "景点门票说涨就涨"]),
    "旅游市场管理": (["旅行社", "导游", "购物团"], ["跟团游导游强迫我们购物", "旅行社收了钱不给安排"]),
    "婚姻登记": (["结婚登记", "离婚登记", "领证"], ["结婚登记要带什么材料"]),
    "殡葬管理": (["墓地", "殡葬", "骨灰"], ["墓地价格太贵了", "老人去世了丧事怎么办手续"]),
    "城镇低保": (["低保", "低保申请"], ["家里困难想申请低保"]),
    "户籍管理": (["落户", "户口", "迁户口"], ["孩子落户需要什么手续", "户口怎么迁过来"]),
    "身份证管理": (["身份证", "补办身份证"], ["身份证丢了怎么补办"]),
    "出入境管理": (["护照", "港澳通行证"], ["办护照需要多长时间"]),
    "交通事故": (["撞车", "剐蹭", "车祸"], ["出了交通事故对方跑了"]),
    "机动车和驾驶员管理": (["驾照", "驾驶证", "换证"], ["驾照到期了怎么换证"]),
    "法律援助": (["法律援助", "免费律师"], ["打官司请不起律师能不能申请法律援助"]),
    "劳动合同纠纷": (["劳动合同", "不签合同"], ["公司不跟我签劳动合同"]),
    "辞职辞退": (["辞退", "开除", "裁员", "赔偿金"], ["公司无故把我辞退了也不给补偿"]),
    "职工工伤保险": (["工伤", "工伤认定"], ["干活受伤了单位不给报工伤"]),
    "退休金发放": (["退休金", "养老金"], ["退休金这个月怎么还没到账"]),
    "城乡居民养老保险": (["城乡居民养老", "农村养老保险"], ["农村老人的养老保险怎么交"]),
    "乱收费": (["学校乱收费", "资料费"], ["学校让交各种资料费"]),
    "校园安全": (["校园安全", "校门口"], ["学校门口放学时车太多太危险"]),
    "非法行医": (["黑诊所", "无证行医"], ["小区里有个黑诊所在给人输液"]),
    "药品和医疗器械管理": (["药店", "假药", "保健品"], ["药店卖过期的药"]),
    "商品质量": (["假货", "质量问题", "伪劣", "假烟", "假酒", "山寨"], ["买的电器是假冒伪劣产品"]),
    "传销": (["传销", "拉人头"], ["亲戚被拉进传销组织了"]),
    "快递市场管理": (["快递", "快递丢件", "快递员"], ["快递丢了快递公司不赔", "快递员不送上门"]),
    "黄赌毒": (["赌博", "涉黄", "吸毒"], ["楼下棋牌室有人聚众赌博"]),
    "消防安全": (["火灾隐患", "消防隐患"], ["地下室堆满了易燃物有火灾隐患"]),
    "森林防火": (["防火", "山火", "上坟烧纸"], ["山上有人上坟烧纸容易着火"]),
    "宅基地纠纷": (["宅基地纠纷"], ["邻居家盖房子占了我家宅基地"]),
    "耕地保护": (["占用耕地", "毁坏耕地"], ["有人在耕地上盖厂房"]),
    "野生动植物保护": (["野生动物", "捕鸟", "野味"], ["有人在山上下网捕鸟"]),
    # 01-05 parts with colloquial names
    "雨水箅子异常": (["下水道箅子", "雨水篦子", "箅子"], ["路边的下水道箅子丢了", "雨水箅子坏了一个大窟窿"]),
    "路灯异常": (
        ["路灯不亮", "路灯"],
        ["我们这条路的路灯晚上都不亮", "路灯一闪一闪的坏了", "路灯白天还亮着"],
    ),
    "公用电梯异常": (["过街电梯", "天桥电梯"], ["天桥的电梯坏了老人上不去"]),
    "公共厕所异常": (["公厕", "厕所"], ["公共厕所太脏了还没水", "公厕的门锁坏了"]),
    "垃圾箱异常": (["垃圾桶坏了", "果皮箱"], ["路边的垃圾桶坏了", "果皮箱被撞倒了"]),
    "交通信号灯异常": (["红绿灯", "信号灯"], ["路口的红绿灯不亮了", "红绿灯时间太短来不及过马路"]),
    "门（楼号）牌异常": (["门牌", "楼号牌", "楼牌"], ["楼门牌掉了快递都找不到", "门牌号不清楚"]),
    "路名牌异常": (["路牌"], ["路名牌写错了", "路口的路牌倒了"]),
    "过街天桥异常": (["天桥"], ["过街天桥的台阶坏了"]),
    "减速带异常": (["减速带"], ["减速带松了车一过就响"]),
    "充电桩异常": (["充电桩"], ["小区的充电桩坏了充不上电"]),
    "快递柜异常": (["快递柜"], ["快递柜坏了取不出件"]),
    "行道树异常": (["树倒了", "大树"], ["路边的大树被风刮倒了", "行道树歪了快倒了"]),
    "古树名木异常": (["古树"], ["老古树的树枝断了"]),
    "户外健身设施异常": (["健身器材"], ["小区的健身器材坏了容易伤人"]),
    "消防设施异常": (["消防栓", "灭火器"], ["消防栓漏水了", "楼道里的灭火器过期了"]),
    "公交站设施异常": (["公交站", "站台"], ["公交站的站牌坏了"]),
    "停车场异常": (["停车场"], ["停车场的道闸坏了"]),
    "非机动车停放点异常": (["自行车棚"], ["自行车棚塌了"]),
}

#: Hand matters from the source documents and common 12345 topics that the two taxonomies lack.
#: (category, name, description, keywords, phrasings, owner_rule, industry, accept_hours, handle_days)
HAND_MATTERS: list[tuple[str, str, str, list[str], list[str], str, str, float, float]] = [
    (
        "10",
        "背街小巷环境脏乱",
        "背街小巷环境整治问题",
        ["背街小巷", "胡同脏乱", "胡同"],
        ["胡同里又脏又乱没人管", "背街小巷的环境太差了", "胡同口堆满了杂物"],
        "locality",
        "城管",
        2,
        3,
    ),
    (
        "10",
        "井盖缺失伤人隐患",
        "井盖丢失、塌陷造成人身安全隐患",
        ["井盖没了", "马葫芦盖", "井盖丢了"],
        ["路上的井盖没了特别危险", "马葫芦盖丢了晚上有人掉下去怎么办"],
        "locality",
        "城管",
        0.5,
        1,
    ),
    (
        "11",
        "住宅电梯故障",
        "住宅楼电梯停运、困人、频繁故障",
        ["电梯故障", "电梯坏了", "电梯困人", "电梯停运"],
        ["我们楼的电梯又坏了老人上不去", "电梯一直停运物业也不修", "电梯把人困里面了"],
        "industry",
        "市场监管",
        0.5,
        2,
    ),
    (
        "11",
        "物业管理服务问题",
        "物业服务不到位、物业费、物业不作为",
        ["物业管理", "物业", "物业不管", "物业费"],
        ["物业什么都不管还收物业费", "小区物业服务太差了", "找物业好几次都没人来修"],
        "locality",
        "住建",
        2,
        7,
    ),
    (
        "11",
        "老旧小区改造",
        "老旧小区综合整治、加装电梯",
        ["老旧小区改造", "加装电梯", "老楼改造"],
        ["我们老楼什么时候能加装电梯", "老旧小区改造施工拖了好久"],
        "locality",
        "住建",
        2,
        7,
    ),
    (
        "11",
        "房屋漏水",
        "楼上漏水、屋顶漏雨、管道渗漏",
        ["漏水", "漏雨", "渗水"],
        ["楼上漏水把我家天花板泡了", "下雨屋顶漏雨了物业不管"],
        "locality",
        "住建",
        2,
        5,
    ),
    (
        "13",
        "停水",
        "突发或计划停水、水压低、没水",
        ["停水", "没水", "水压低", "自来水"],
        ["我们小区突然停水了也没通知", "家里一天都没有水", "自来水水压太低上不去楼"],
        "industry",
        "供水",
        0.5,
        1,
    ),
    (
        "13",
        "自来水水质问题",
        "自来水发黄、浑浊、有异味",
        ["水质", "水发黄", "水有味"],
        ["自来水发黄还有味道", "水龙头出来的水是浑的"],
        "industry",
        "供水",
        1,
        2,
    ),
    (
        "13",
        "停电",
        "突发停电、频繁跳闸、电压不稳",
        ["停电", "没电", "跳闸", "电压不稳"],
        ["我们这片突然停电了", "家里老是停电冰箱都坏了", "整栋楼都没电了"],
        "industry",
        "供电",
        0.5,
        1,
    ),
    (
        "13",
        "燃气供应问题",
        "燃气停气、燃气表、燃气泄漏隐患(非紧急)",
        ["燃气", "天然气", "停气", "煤气"],
        ["家里天然气打不着火", "小区停气了也没通知", "燃气表不走字了"],
        "industry",
        "燃气",
        0.5,
        1,
    ),
    (
        "13",
        "供暖不热",
        "冬季供暖温度不达标、暖气不热",
        ["供暖", "暖气不热", "暖气", "室温低"],
        ["家里暖气一点都不热", "暖气不热屋里才十几度", "供暖都开始了我家还是凉的"],
        "industry",
        "供热",
        1,
        2,
    ),
    (
        "13",
        "供暖停暖与收费",
        "停暖、供暖费、报停",
        ["停暖", "供暖费", "采暖费"],
        ["暖气突然停了", "供暖费收得不合理", "想报停暖气怎么办"],
        "industry",
        "供热",
        1,
        5,
    ),
    (
        "14",
        "道路扬尘",
        "道路清扫不到位、车辆扬尘",
        ["道路扬尘", "扬尘", "尘土"],
        ["这条路车一过尘土飞扬", "路上的土太大了也不洒水"],
        "locality",
        "生态环境",
        2,
        3,
    ),
    (
        "14",
        "社会生活噪声",
        "商业经营、娱乐场所、装修噪声",
        ["装修噪音", "装修吵", "商业噪音"],
        ["楼上装修天天电钻响", "中午休息时间还在装修"],
        "locality",
        "生态环境",
        2,
        3,
    ),
    (
        "14",
        "露天焚烧秸秆",
        "农村露天焚烧秸秆、垃圾",
        ["烧秸秆", "秸秆"],
        ["地里有人烧秸秆烟很大"],
        "locality",
        "生态环境",
        1,
        2,
    ),
    (
        "18",
        "拖欠工资",
        "用人单位拖欠、克扣劳动者工资",
        ["拖欠工资", "欠薪", "不发工资", "工资"],
        ["公司欠了我三个月工资不发", "老板跑了工资一直拖着", "干完活了工头不给结工钱"],
        "industry",
        "人社",
        2,
        7,
    ),
    (
        "18",
        "农民工欠薪",
        "工程项目拖欠农民工工资",
        ["农民工工资", "工钱", "包工头"],
        ["工地欠我们农民工的工钱不给", "包工头拖欠工资跑了"],
        "industry",
        "人社",
        1,
        5,
    ),
    (
        "19",
        "社保缴纳与转移",
        "社保断缴、补缴、转移接续",
        ["社保", "社保缴纳", "社保转移", "五险一金"],
        ["公司没给我交社保", "社保怎么转到北京", "想问一下社保断缴了怎么补"],
        "industry",
        "人社",
        2,
        7,
    ),
    (
        "19",
        "医保报销",
        "医保报销、异地就医备案",
        ["医保", "医保报销", "异地就医"],
        ["医保报销比例是多少", "异地就医怎么备案"],
        "industry",
        "医保",
        2,
        7,
    ),
    (
        "16",
        "入学与学位咨询",
        "幼升小、小升初入学、学区",
        ["入学", "上学", "学位", "学区"],
        ["孩子上小学要准备什么材料", "我们这个片区对口哪个学校"],
        "industry",
        "教育",
        2,
        7,
    ),
    (
        "16",
        "校外培训机构",
        "校外培训退费、违规培训",
        ["培训班", "退费", "校外培训"],
        ["培训机构跑路了学费退不了", "辅导班不给退费"],
        "industry",
        "教育",
        2,
        7,
    ),
    (
        "20",
        "医院服务投诉",
        "医院服务态度、排队、挂号难",
        ["医院", "挂号", "看病难", "医生态度"],
        ["医院挂号太难了", "医生态度很差", "在医院排了一上午队"],
        "industry",
        "卫健",
        2,
        7,
    ),
    (
        "15",
        "公交线路与运营",
        "公交线路调整、班次、司机服务",
        ["公交", "公交车", "班次", "线路"],
        ["公交车好久都不来一趟", "希望增加一条公交线路", "公交司机不等人就开走了"],
        "industry",
        "交通",
        2,
        7,
    ),
    (
        "15",
        "出租车与网约车服务",
        "拒载、绕路、乱收费",
        ["出租车", "拒载", "绕路", "网约车"],
        ["出租车司机拒载", "网约车司机故意绕路"],
        "industry",
        "交通",
        2,
        7,
    ),
    (
        "22",
        "消费维权",
        "商品服务质量、退换货、预付卡",
        ["消费维权", "退款", "预付卡", "办卡", "不退钱"],
        ["健身房关门了办的卡不退钱", "买的东西有质量问题商家不给退", "理发店办了卡现在跑路了"],
        "industry",
        "市场监管",
        2,
        7,
    ),
    (
        "22",
        "价格欺诈与乱收费",
        "明码标价、价格欺诈",
        ["乱收费", "价格欺诈", "宰客", "标价"],
        ["饭馆结账比菜单价高", "商店不明码标价"],
        "industry",
        "市场监管",
        2,
        7,
    ),
    (
        "21",
        "餐饮食品安全",
        "饭馆食品卫生、变质食品、食物中毒",
        ["食品安全", "变质", "吃坏肚子", "不卫生"],
        ["在饭馆吃完拉肚子", "超市卖过期食品", "后厨特别脏"],
        "industry",
        "市场监管",
        1,
        5,
    ),
    (
        "24",
        "邻里纠纷与治安",
        "非紧急治安问题、邻里纠纷",
        ["邻里纠纷", "打架", "吵架"],
        ["邻居天天跟我吵架", "楼下有人喝酒闹事"],
        "industry",
        "公安",
        1,
        3,
    ),
    (
        "24",
        "养犬管理",
        "遛狗不拴绳、大型犬、犬只扰民",
        ["养狗", "遛狗", "狗叫", "不拴绳", "犬只", "宠物狗"],
        ["小区里有人遛狗不拴绳", "邻居的狗天天叫", "有人养大型犬吓人"],
        "industry",
        "公安",
        2,
        5,
    ),
    (
        "23",
        "养老服务",
        "养老驿站、居家养老、老年餐",
        ["养老", "老年人", "养老院", "老年餐"],
        ["社区养老驿站不开门", "老人想申请居家养老服务"],
        "industry",
        "民政",
        2,
        7,
    ),
    (
        "13",
        "下水道堵塞与污水外溢",
        "下水道、排水管道堵塞，污水外溢、返水",
        ["下水道", "下水道堵了", "污水外溢", "返水", "排水管道"],
        ["下水道堵了脏水往外冒", "一下雨小区里的下水道就返水", "楼下的污水管道堵了味道很大"],
        "locality",
        "水务",
        1,
        3,
    ),
    (
        "11",
        "群租房",
        "群租、隔断出租、地下室住人",
        ["群租房", "群租", "隔断间", "打隔断"],
        ["对门把房子隔成好几间租给十几个人", "楼里有群租房人来人往不安全"],
        "locality",
        "住建",
        2,
        7,
    ),
    (
        "11",
        "新建住房质量问题",
        "新房墙面开裂、渗水、交房质量",
        ["房屋质量", "墙面开裂", "交房"],
        ["刚交房墙上就裂了好几条缝", "新房子的窗户漏风开发商不管"],
        "industry",
        "住建",
        2,
        15,
    ),
    (
        "09",
        "电动自行车违规充电",
        "楼道充电、飞线充电、电动车进楼",
        ["飞线充电", "楼道充电", "电动车充电"],
        ["有人从楼上扯电线下来给电动车充电", "邻居把电动车推进楼道里充电"],
        "locality",
        "应急",
        1,
        3,
    ),
    (
        "20",
        "疫苗接种",
        "疫苗接种预约、接种点",
        ["疫苗", "打疫苗", "接种"],
        ["孩子打疫苗在哪里预约", "社区医院的疫苗什么时候到"],
        "industry",
        "卫健",
        2,
        5,
    ),
    (
        "23",
        "残疾人补贴与服务",
        "残疾证办理、残疾人补贴",
        ["残疾证", "残疾人补贴", "残疾人"],
        ["办残疾证需要什么材料", "残疾人补贴好几个月没发了"],
        "industry",
        "民政",
        2,
        7,
    ),
    (
        "24",
        "电信网络诈骗",
        "电话诈骗、网络诈骗的咨询和线索(报警请拨110)",
        ["诈骗", "被骗", "骗子"],
        ["我妈接了个电话被骗走了两万块", "网上刷单被人骗了钱"],
        "industry",
        "公安",
        1,
        3,
    ),
    (
        "28",
        "骚扰电话与垃圾短信",
        "推销电话、骚扰电话、垃圾短信",
        ["骚扰电话", "推销电话", "垃圾短信"],
        ["天天接到推销贷款的骚扰电话", "手机老是收到垃圾短信"],
        "industry",
        "科信",
        2,
        7,
    ),
    (
        "14",
        "异味恶臭",
        "工厂、垃圾站、污水的异味恶臭",
        ["异味", "臭味", "恶臭", "刺鼻"],
        ["附近工厂晚上排出刺鼻的味道", "垃圾站臭味太大熏得头疼"],
        "locality",
        "生态环境",
        2,
        5,
    ),
    (
        "26",
        "宅基地与农村建房",
        "宅基地审批、农村翻建",
        ["宅基地", "翻建", "农村建房"],
        ["村里宅基地怎么申请", "我们村有人乱占耕地盖房"],
        "locality",
        "农业农村",
        2,
        15,
    ),
    (
        "28",
        "通信信号与宽带",
        "手机信号差、宽带故障",
        ["信号差", "宽带", "手机信号"],
        ["家里手机没有信号", "宽带老是断网"],
        "industry",
        "科信",
        2,
        7,
    ),
    (
        "27",
        "非法集资",
        "非法集资、P2P 爆雷",
        ["非法集资", "理财", "爆雷", "高息"],
        ["有人拉老人投资高息理财", "买的理财产品跑路了"],
        "industry",
        "发改",
        2,
        15,
    ),
]

#: Category → (default owner rule, default industry, accept_hours, handle_days)
CATEGORY_DEFAULTS: dict[str, tuple[str, str, float, float]] = {
    "01": ("locality", "城管", 2, 3),
    "02": ("industry", "交通", 2, 3),
    "03": ("industry", "城管", 2, 3),
    "04": ("industry", "园林", 2, 5),
    "05": ("locality", "城管", 2, 5),
    "06": ("locality", "城管", 2, 3),
    "07": ("locality", "城管", 2, 3),
    "08": ("industry", "住建", 2, 3),
    "09": ("locality", "城管执法", 2, 3),
    "10": ("locality", "城管", 2, 3),
    "11": ("industry", "住建", 2, 7),
    "12": ("industry", "规划", 2, 15),
    "13": ("industry", "供水", 1, 2),
    "14": ("industry", "生态环境", 2, 7),
    "15": ("industry", "交通", 2, 7),
    "16": ("industry", "教育", 2, 7),
    "17": ("industry", "文旅", 2, 7),
    "18": ("industry", "人社", 2, 7),
    "19": ("industry", "人社", 2, 7),
    "20": ("industry", "卫健", 2, 7),
    "21": ("industry", "市场监管", 2, 5),
    "22": ("industry", "市场监管", 2, 7),
    "23": ("industry", "民政", 2, 7),
    "24": ("industry", "公安", 2, 7),
    "25": ("industry", "司法", 2, 15),
    "26": ("industry", "农业农村", 2, 15),
    "27": ("industry", "发改", 2, 15),
    "28": ("industry", "科信", 2, 15),
    "29": ("industry", "政务", 2, 15),
}

#: Name fragment → (owner rule, industry); first match wins (GB parts and events, Teddy labels).
NAME_RULES: list[tuple[str, str, str]] = [
    ("供水", "industry", "供水"),
    ("自来水", "industry", "供水"),
    ("水井", "industry", "供水"),
    ("水鹤", "industry", "供水"),
    ("电力", "industry", "供电"),
    ("高压线", "industry", "供电"),
    ("变压器", "industry", "供电"),
    ("电缆", "industry", "供电"),
    ("燃气", "industry", "燃气"),
    ("输油", "industry", "燃气"),
    ("热力", "industry", "供热"),
    ("供热", "industry", "供热"),
    ("采暖", "industry", "供热"),
    ("污水", "industry", "水务"),
    ("雨水", "industry", "水务"),
    ("中水", "industry", "水务"),
    ("排水", "industry", "水务"),
    ("防汛", "industry", "水务"),
    ("水域", "industry", "水务"),
    ("河道", "industry", "水务"),
    ("堤岸", "industry", "水务"),
    ("化粪池", "industry", "城管"),
    ("公安", "industry", "公安"),
    ("治安", "industry", "公安"),
    ("监控", "industry", "公安"),
    ("消防", "industry", "应急"),
    ("园林", "industry", "园林"),
    ("绿地", "industry", "园林"),
    ("病虫害", "industry", "园林"),
    ("伐树", "industry", "园林"),
    ("古树", "industry", "园林"),
    ("信号灯", "industry", "公安"),
    ("非机动车", "locality", "城管执法"),
    ("机动车乱停放", "industry", "公安"),
    ("公交", "industry", "交通"),
    ("共享单车", "industry", "交通"),
    ("轨道交通", "industry", "交通"),
    ("通信", "industry", "科信"),
    ("网络", "industry", "科信"),
    ("电视", "industry", "科信"),
    ("文物", "industry", "文旅"),
    ("景区", "industry", "文旅"),
    ("环保监测", "industry", "生态环境"),
    ("气象", "industry", "应急"),
    ("油烟", "locality", "生态环境"),
    ("噪声", "locality", "生态环境"),
    ("工地扬尘", "industry", "住建"),
    ("无证建设", "industry", "城管执法"),
    ("无证掘路", "industry", "城管执法"),
    ("物业服务", "locality", "住建"),
    ("小区管理", "locality", "住建"),
    ("社区建设", "locality", "民政"),
    ("居委会选举", "locality", "民政"),
    ("村委会选举", "locality", "民政"),
    ("村务", "locality", "农业农村"),
    ("宅基地", "locality", "农业农村"),
    ("安全生产", "industry", "应急"),
    ("事故处理", "industry", "应急"),
    ("安全隐患", "industry", "应急"),
    ("医疗保险", "industry", "医保"),
    ("医疗救助", "industry", "民政"),
    ("新农村合作医疗", "industry", "医保"),
    ("优抚", "industry", "退役军人"),
    ("退役", "industry", "退役军人"),
    ("复员", "industry", "退役军人"),
    ("转业", "industry", "退役军人"),
    ("军休", "industry", "退役军人"),
    ("体育", "industry", "体育"),
    ("运动员", "industry", "体育"),
    ("纪", "industry", "纪检"),
    ("林", "industry", "园林"),
    ("水利", "industry", "水务"),
    ("防汛抗旱", "industry", "水务"),
    ("江河湖", "industry", "水务"),
    ("引水调水", "industry", "水务"),
    ("水事纠纷", "industry", "水务"),
    ("水土流失", "industry", "水务"),
    ("土地", "industry", "规划"),
    ("耕地", "industry", "规划"),
    ("矿", "industry", "规划"),
    ("地质", "industry", "规划"),
    ("地震", "industry", "应急"),
    ("海洋", "industry", "规划"),
    ("住房公积金", "industry", "住建"),
    ("房屋", "industry", "住建"),
    ("回迁房", "industry", "住建"),
    ("安置补偿", "industry", "住建"),
    ("棚户区", "industry", "住建"),
    ("施工安全", "industry", "住建"),
    ("工程", "industry", "住建"),
    ("企业资质", "industry", "住建"),
    ("违章建筑", "locality", "城管执法"),
    ("城管执法", "locality", "城管执法"),
    ("环境卫生", "locality", "城管"),
    ("园林绿化环卫", "locality", "城管"),
    ("公园管理", "industry", "园林"),
    ("地铁城铁", "industry", "交通"),
    ("公共汽车", "industry", "交通"),
    ("冬季采暖", "industry", "供热"),
    ("电力供应", "industry", "供电"),
    ("燃气供应", "industry", "燃气"),
    ("自来水供应", "industry", "供水"),
    ("居民服务设施", "locality", "城管"),
    ("城市公共设施", "locality", "城管"),
    ("基础设施", "industry", "城管"),
    ("税收", "industry", "发改"),
    ("集资", "industry", "发改"),
    ("特种设备", "industry", "市场监管"),
]

#: Colloquial synonyms inserted for part names (部件) when generating phrasings.
PART_SYNONYMS = {"井盖": ["马葫芦盖", "井盖子"], "垃圾箱": ["垃圾桶"], "公共厕所": ["公厕", "厕所"]}
#: Part-name ending → typical malfunction phrasings (typical colloquial forms).
PART_TEMPLATES: list[tuple[str, list[str]]] = [
    ("井盖", ["{p}丢了", "{p}坏了", "{p}塌下去了", "{p}松动了车一过就响", "{p}碎了"]),
    ("箅子", ["{p}丢了", "{p}坏了", "{p}堵了"]),
    ("灯", ["{p}不亮了", "{p}坏了", "{p}一闪一闪的", "{p}白天也亮着"]),
    ("树", ["{p}倒了", "{p}歪了快倒了", "{p}的枝子断了"]),
    ("牌", ["{p}倒了", "{p}掉了", "{p}上的字看不清", "{p}歪了"]),
    ("杆", ["{p}歪了", "{p}倒了", "{p}快倒了"]),
    ("桥", ["{p}有裂缝", "{p}坏了", "{p}栏杆断了"]),
    ("屏", ["{p}黑屏了", "{p}坏了", "{p}不显示了"]),
    ("池", ["{p}满了往外冒", "{p}坏了", "{p}的盖子破了"]),
    ("", ["{p}坏了", "{p}损坏了没人修", "{p}破了", "{p}有问题", "{p}被撞坏了"]),
]

#: Teddy Cup leaves that duplicate a hand-written matter: merged into it (their name becomes a keyword).
MERGED_INTO_HAND = {
    "物业服务": "物业管理服务问题",
    "冬季采暖": "供暖不热",
    "自来水供应": "停水",
    "电力供应": "停电",
    "燃气供应": "燃气供应问题",
    "工资发放": "拖欠工资",
    "公共汽车": "公交线路与运营",
    "网约车问题": "出租车与网约车服务",
    "食品安全": "餐饮食品安全",
}

#: Teddy Cup level-2 groups left out: national matters a district hotline does not dispatch, plus the
#: bare "一级/其他/其他" leaves (no content to learn from).
EXCLUDED_LEVEL2 = {"国防外交", "港澳台侨", "政治体制"}

SOURCE_GB = "GB/T 47678.5-2026 "
SOURCE_TEDDY = "Teddy Cup 2020 C "
SOURCE_DOCS = "source documents"


@dataclass
class MatterRow:
    code: str
    category_code: str
    name: str
    description: str
    keywords: list[str]
    phrasings: list[str]
    owner_rule: str
    industry: str
    accept_hours: float
    handle_days: float
    source: str
    extra: dict[str, str] = field(default_factory=dict)


def _clean(name: str) -> str:
    return re.sub(r"[（(].*?[)）]", "", name).replace("、", "").strip()


def _name_rule(name: str, category: str) -> tuple[str, str]:
    for fragment, rule, industry in NAME_RULES:
        if fragment in name:
            return rule, industry
    rule, industry, _, _ = CATEGORY_DEFAULTS[category]
    return rule, industry


def _part_phrasings(part: str) -> list[str]:
    names = [part, *[s for k, v in PART_SYNONYMS.items() if part.endswith(k) for s in v]]
    for ending, templates in PART_TEMPLATES:
        if ending in part:
            return [t.format(p=n) for n in names for t in templates][:8]
    return []


def _generic_phrasings(name: str, level2: str) -> list[str]:
    short = _clean(name)
    out = [f"我想反映一下{short}的问题", f"咨询一下{short}方面的事", f"关于{short}我要投诉"]
    if level2 and level2 not in short:
        out.append(f"{level2}方面，{short}的问题一直没人管")
    return out


def _time_limits(category: str, name: str) -> tuple[float, float]:
    _, _, accept, handle = CATEGORY_DEFAULTS[category]
    if any(w in name for w in ("井盖", "燃气", "停水", "停电", "积雪", "结冰", "脱落", "困人", "突发")):
        return 0.5, 1.0
    return accept, handle


def build_matters() -> list[MatterRow]:
    rows: list[MatterRow] = []
    used_names: set[str] = set()
    # GB/T 47678.5-2026 管理事项 -> categories 01-10
    with open(SHARED_DIR / "taxonomy" / "gbt47678.5-2026_parts_and_matters.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["kind"] != "管理事项":
                continue
            cat = GB_CATEGORY[rec["category"]]
            name = rec["name"]
            gb_code = rec["code"]
            part = name[:-2] if name.endswith("异常") else ""
            kw, phr = HAND.get(name, ([], []))
            keywords = [_clean(part or name), *kw]
            phrasings = list(phr)
            if part:
                phrasings += _part_phrasings(_clean(part))
                description = f"{part}损坏、缺失、移位或功能异常（管理部件 {gb_code}）"
            else:
                short = _clean(name)
                generic = [
                    f"有{short}的问题",
                    f"这里{short}没人管",
                    f"发现{short}的情况",
                    f"{short}的情况很严重",
                ]
                phrasings += generic[: max(0, 4 - len(phrasings))]
                description = f"{name}（城市管理事项 {gb_code}）"
            rule, industry = _name_rule(name, cat)
            accept, handle = _time_limits(cat, name)
            rows.append(
                MatterRow(
                    f"{cat}00{gb_code[2:]}",
                    cat,
                    name,
                    description,
                    _dedup(keywords),
                    _dedup(phrasings),
                    rule,
                    industry,
                    accept,
                    handle,
                    SOURCE_GB + gb_code,
                )
            )
            used_names.add(_clean(name))
    # Teddy Cup label tree -> categories 11-29
    merged_into_gb = {"违章建筑", "噪音污染", "园林绿化环卫", "城管执法"}
    groups: dict[str, dict[str, int]] = defaultdict(dict)
    seq: dict[tuple[str, int], int] = defaultdict(int)
    with open(SHARED_DIR / "taxonomy" / "teddycup2020_fj1_3level_labels.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            l1, l2, l3 = rec["一级分类"], rec["二级分类"], rec["三级分类"]
            if (
                l3 in merged_into_gb
                or l3 in MERGED_INTO_HAND
                or l2 in EXCLUDED_LEVEL2
                or (l2 == "其他" and l3 == "其他")
            ):
                continue
            cat = _teddy_category(l1, l2, l3)
            name = f"{l2}其他问题" if l3 == "其他" else l3
            if l2 == "其他" and l3 == "其他":
                name = f"{l1}其他问题"
            if _clean(name) in used_names:
                name = f"{l2}{l3}" if not l3.startswith(l2) else f"{l1}{l3}"
            if _clean(name) in used_names:
                continue
            used_names.add(_clean(name))
            grp = groups[cat].setdefault(l2, len(groups[cat]) + 1)
            seq[(cat, grp)] += 1
            kw, phr = HAND.get(name, ([], []))
            keywords = [_clean(name) if l3 != "其他" else l2, *kw]
            phrasings = list(phr) + _generic_phrasings(
                name if l3 != "其他" else l2, l2 if l3 != "其他" else ""
            )
            rule, industry = _name_rule(l3 if l3 != "其他" else l2, cat)
            if rule == CATEGORY_DEFAULTS[cat][0] and industry == CATEGORY_DEFAULTS[cat][1]:
                rule, industry = _name_rule(l2, cat)
            accept, handle = _time_limits(cat, name)
            rows.append(
                MatterRow(
                    f"{cat}{grp:02d}{seq[(cat, grp)]:03d}",
                    cat,
                    name,
                    f"{l1} / {l2} / {l3}",
                    _dedup(keywords),
                    _dedup(phrasings),
                    rule,
                    industry,
                    accept,
                    handle,
                    f"{SOURCE_TEDDY}{l1}/{l2}/{l3}"[:64],
                )
            )
    # matters named in the source documents
    hand_seq: dict[str, int] = defaultdict(int)
    for cat, name, desc, kw, phr, rule, industry, accept, handle in HAND_MATTERS:
        hand_seq[cat] += 1
        kw = kw + [teddy for teddy, hand in MERGED_INTO_HAND.items() if hand == name]
        phr = phr + [f"我要反映{name}的问题", f"{kw[0]}这个事谁管"][: max(0, 3 - len(phr))]
        rows.append(
            MatterRow(
                f"{cat}90{hand_seq[cat]:03d}",
                cat,
                name,
                desc,
                _dedup([name, *kw]),
                phr,
                rule,
                industry,
                accept,
                handle,
                SOURCE_DOCS,
            )
        )
    codes = [r.code for r in rows]
    assert len(codes) == len(set(codes)), "duplicate matter codes"
    return rows


def _teddy_category(l1: str, l2: str, l3: str) -> str:
    if l1 == "城乡建设":
        if l2 == "住房保障与房地产":
            return "11"
        if l2 == "安全生产":
            return "27"
        if l2 == "城市建设和市政管理":
            return {
                "公共汽车": "15",
                "地铁城铁": "15",
                "冬季采暖": "13",
                "燃气供应": "13",
                "电力供应": "13",
                "自来水供应": "13",
                "小区管理": "11",
                "园林绿化": "04",
                "公园管理": "17",
            }.get(l3, "10")
        return "12"
    if l1 == "商贸旅游":
        return "17" if l2 == "旅游管理" else "22"
    if l1 == "卫生计生":
        return "21" if l2 == "食品药品监管" else "20"
    if l1 == "政法":
        return "24" if l2 in {"户籍证件", "社会治安", "交通管理", "警务督察", "刑案侦破"} else "25"
    if l1 == "教育文体":
        return "17" if l2 in {"体育", "文化", "文物管理"} else "16"
    if l1 == "劳动和社会保障":
        return (
            "19" if l2 in {"城镇居民社会保险", "城镇职工社会保险", "社保基金管理", "退休政策及待遇"} else "18"
        )
    return {
        "党务政务": "29",
        "纪检监察": "29",
        "国土资源": "26",
        "农村农业": "26",
        "环境保护": "14",
        "交通运输": "15",
        "经济管理": "27",
        "科技与信息产业": "28",
        "民政": "23",
    }[l1]


def _dedup(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip().replace("|", "/")
        if item:
            seen.setdefault(item, None)
    return list(seen)


# --------------------------------------------------------------------------------------------------
# Gazetteer subset, units, rules
# --------------------------------------------------------------------------------------------------
def build_areas() -> list[dict[str, str]]:
    gz = SHARED_DIR / "gazetteer"
    rows: list[dict[str, str]] = []
    for code, name in PROVINCE_NAMES.items():
        rows.append({"code": code, "name": name, "level": "province", "parent_code": "", "handled_by": ""})
    for code, (name, prov) in CITY_NAMES.items():
        rows.append({"code": code, "name": name, "level": "city", "parent_code": prov, "handled_by": ""})
    for code, name in SEED_DISTRICTS.items():
        rows.append(
            {
                "code": code,
                "name": name,
                "level": "district",
                "parent_code": DISTRICT_CITY[code],
                "handled_by": "",
            }
        )
    with open(gz / "streets.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["areaCode"] in SEED_DISTRICTS:
                handled = HANDLED_BY.get(rec["code"], ("", ""))[0]
                rows.append(
                    {
                        "code": rec["code"],
                        "name": rec["name"],
                        "level": "street",
                        "parent_code": rec["areaCode"],
                        "handled_by": handled,
                    }
                )
    with open(gz / "villages_beijing_chengdu.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["areaCode"].strip() in SEED_DISTRICTS:
                rows.append(
                    {
                        "code": rec["code"],
                        "name": rec["name"].strip(),
                        "level": "community",
                        "parent_code": rec["streetCode"],
                        "handled_by": "",
                    }
                )
    return rows


def build_units(areas: list[dict[str, str]]) -> list[dict[str, str]]:
    units: list[dict[str, str]] = []
    for code, district in SEED_DISTRICTS.items():
        units.append(
            {
                "code": center_code(code),
                "name": f"{district}12345市民服务热线分中心",
                "kind": "center",
                "parent_code": "",
                "area_code": code,
                "industry": "",
                "phone": "12345",
            }
        )
        for industry in BUREAUS:
            units.append(
                {
                    "code": bureau_code(code, industry),
                    "name": bureau_name(code, industry),
                    "kind": "district_bureau",
                    "parent_code": center_code(code),
                    "area_code": code,
                    "industry": industry,
                    "phone": "",
                }
            )
    for city, utils in UTILITIES.items():
        for industry, (ucode, name, phone) in utils.items():
            units.append(
                {
                    "code": ucode,
                    "name": name,
                    "kind": "utility",
                    "parent_code": "",
                    "area_code": city,
                    "industry": industry,
                    "phone": phone,
                }
            )
    streets = {a["code"]: a for a in areas if a["level"] == "street"}
    for street in streets.values():
        if street["handled_by"]:
            continue
        name = street["name"]
        office = name + ("人民政府" if name.endswith(("镇", "乡")) else "办事处")
        units.append(
            {
                "code": f"S{street['code']}",
                "name": office,
                "kind": "street_office",
                "parent_code": center_code(street["parent_code"]),
                "area_code": street["code"],
                "industry": "",
                "phone": "",
            }
        )
    for area in areas:
        if area["level"] != "community":
            continue
        street = streets[area["parent_code"]]
        office_street = street["handled_by"] or street["code"]
        units.append(
            {
                "code": f"C{area['code']}",
                "name": area["name"],
                "kind": "community",
                "parent_code": f"S{office_street}",
                "area_code": area["code"],
                "industry": "",
                "phone": "",
            }
        )
    return units


#: Hand-written per-street overrides (示例覆盖规则): illustrative configuration, not official assignments.
OVERRIDES: list[tuple[str, str, str, str]] = [
    # (matter name, street code, unit code, note)
    ("占道经营", "110101011", "110101-CGZF", "前门地区重点商业街，占道经营由区城管执法局直管（示例）"),
    ("店外经营", "110101011", "110101-CGZF", "前门地区重点商业街，店外经营由区城管执法局直管（示例）"),
    ("无照经营游商", "110101016", "110101-CGZF", "天坛周边游商由区城管执法局直管（示例）"),
    ("公园秩序", "110101016", "110101-YLJ", "天坛街道辖区公园秩序由区园林绿化局负责（示例）"),
    ("水域不洁", "110116004", "110116-SWJ", "雁栖湖水域由区水务局负责（示例）"),
    ("公园秩序", "110116004", "110116-YLJ", "雁栖湖周边公园由区园林绿化局负责（示例）"),
    ("机动车乱停放", "110115107", "110115-JTW", "大兴机场周边停车由区交通委协调（示例）"),
    ("物业管理服务问题", "110115004", "110115-ZJW", "亦庄地区物业由区住建委统一协调（示例）"),
    ("背街小巷环境脏乱", "110101006", "110101-CGW", "东四胡同保护区背街小巷由区城管委牵头（示例）"),
    ("噪声扰民", "510117006", "510117-STHJ", "犀浦高校周边噪声由区生态环境局牵头（示例）"),
]


def build_rules(
    matters: list[MatterRow], areas: list[dict[str, str]], units: list[dict[str, str]]
) -> list[dict[str, str]]:
    unit_codes = {u["code"] for u in units}
    streets_by_district: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a in areas:
        if a["level"] == "street":
            streets_by_district[a["parent_code"]].append(a)
    rules: list[dict[str, str]] = []
    for m in matters:
        for district in SEED_DISTRICTS:
            city = DISTRICT_CITY[district]
            if m.owner_rule == "industry":
                if m.industry in UTILITIES.get(city, {}):
                    unit = UTILITIES[city][m.industry][0]
                    note = "公共服务企业（行业管理）"
                elif m.industry in BUREAUS:
                    unit = bureau_code(district, m.industry)
                    note = "行业管理"
                else:
                    unit = center_code(district)
                    note = f"本区无{m.industry}承办单位，由分中心人工派单"
                rules.append(
                    {
                        "matter_code": m.code,
                        "area_code": district,
                        "unit_code": unit,
                        "rule_kind": "industry",
                        "note": note,
                    }
                )
            else:
                rules.append(
                    {
                        "matter_code": m.code,
                        "area_code": district,
                        "unit_code": center_code(district),
                        "rule_kind": "locality",
                        "note": "属地管理：街道不明时由分中心派单",
                    }
                )
                for street in streets_by_district[district]:
                    office = street["handled_by"] or street["code"]
                    rules.append(
                        {
                            "matter_code": m.code,
                            "area_code": street["code"],
                            "unit_code": f"S{office}",
                            "rule_kind": "locality",
                            "note": "",
                        }
                    )
    by_name = {m.name: m.code for m in matters}
    for name, override_street, unit_code, note in OVERRIDES:
        assert unit_code in unit_codes, unit_code
        rules.append(
            {
                "matter_code": by_name[name],
                "area_code": override_street,
                "unit_code": unit_code,
                "rule_kind": "override",
                "note": note,
            }
        )
    return rules


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})


def _fmt(value: float) -> str:
    return f"{value:g}"


def main(out_dir: Path = DATA_DIR) -> dict[str, int]:
    matters = build_matters()
    areas = build_areas()
    units = build_units(areas)
    rules = build_rules(matters, areas, units)
    _write(out_dir / "categories.csv", ["code", "name"], [{"code": c, "name": n} for c, n in CATEGORIES])
    _write(
        out_dir / "matters.csv",
        [
            "code",
            "category_code",
            "name",
            "description",
            "keywords",
            "phrasings",
            "owner_rule",
            "industry",
            "accept_hours",
            "handle_days",
            "source",
        ],
        [
            {
                "code": m.code,
                "category_code": m.category_code,
                "name": m.name,
                "description": m.description,
                "keywords": "|".join(m.keywords),
                "phrasings": "|".join(m.phrasings),
                "owner_rule": m.owner_rule,
                "industry": m.industry,
                "accept_hours": _fmt(m.accept_hours),
                "handle_days": _fmt(m.handle_days),
                "source": m.source,
            }
            for m in matters
        ],
    )
    _write(
        out_dir / "units.csv",
        ["code", "name", "kind", "parent_code", "area_code", "industry", "phone"],
        units,
    )
    _write(
        out_dir / "responsibility_rules.csv",
        ["matter_code", "area_code", "unit_code", "rule_kind", "note"],
        rules,
    )
    _write(out_dir / "gazetteer" / "areas.csv", ["code", "name", "level", "parent_code", "handled_by"], areas)
    counts = {
        "categories": len(CATEGORIES),
        "matters": len(matters),
        "units": len(units),
        "rules": len(rules),
        "areas": len(areas),
    }
    return counts


if __name__ == "__main__":
    print(main())
