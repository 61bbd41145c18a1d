"""Demo data for audiences: the bank's tag taxonomy, customers with plausible
tags, and a few segments. Called by ``manage.py seed_demo`` (see accounts).

Idempotent: categories and tags are created only where their code is missing,
customers only when there are none yet, segments only when their name is new
for their branch. Customers and their tags go through
``services.customers_upsert``, so the bitmap index is built as for an import.

The customers are random but reproducible (fixed seed) and correlated the way
a bank's data is: AUM decides the value tier, private-banking customers hold
wealth products, trusts and large CDs, students and new graduates live on
mobile banking and credit cards, retirees keep time deposits, visit the
counter and take little risk, and fund holdings follow the risk level.
Exactly one AUM tier, risk level, value tier, life stage, age band and gender
per customer.

Strings here are data (the bank's own taxonomy, in both languages), not
interface text.
"""

# Chinese text takes full-width commas and brackets, and ranges an en dash.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from accounts.models import Branch, User
from audiences import services
from audiences.models import Customer, Segment, Tag, TagCategory

DEFAULT_CUSTOMERS = 50_000
SEED = 20260101
# Rows per customers_upsert call. Each call locks and rewrites every opening-day
# bitmap it touches (about 5,000 over 15 years), so a few large calls beat many small ones.
CHUNK = 25_000
SOURCE_REF = "demo"

# --- taxonomy -----------------------------------------------------------------

# (code, Chinese name, English name, description)
CATEGORIES = [
    ("attributes", "基本属性", "Attributes", "性别、年龄、职业、学历、户籍、资产状况、开户时长等客户基本信息"),
    ("assets", "资产", "Assets", "金融资产（AUM）层级、资产变动、到期与负债情况"),
    ("products", "持有产品", "Products held", "存款、基金、理财、保险、贵金属、银行卡、贷款及代理业务的持有情况"),
    ("transactions", "交易行为", "Transactions", "用卡活跃度、消费金额、转账汇款、还款与投资交易行为"),
    ("channels", "渠道行为", "Channel behaviour", "手机银行、微信银行、网点、ATM、电话银行等渠道的使用与触达偏好"),
    ("preferences", "偏好", "Preferences", "投资、保险、消费场景、权益类型与触达方式偏好"),
    ("life_stage", "人生阶段", "Life stage", "客户当前所处的人生阶段，每位客户一个"),
    ("risk_level", "风险等级", "Risk level", "个人投资者风险承受能力评估结果（C1–C5），每位客户一个"),
    ("value_tier", "价值等级", "Value tier", "按金融资产划分的客户价值层级，每位客户一个"),
    ("campaign_history", "活动历史", "Campaign history", "参与营销活动的历史记录，由活动结束后打标生成"),
]

# AUM tiers: (code, Chinese range, English range, value tier)
AUM_TIERS = [
    ("AUM_LT_1W", "1万元以下", "below ¥10k", "VALUE_MASS"),
    ("AUM_1W_5W", "1万–5万元", "¥10k–50k", "VALUE_MASS"),
    ("AUM_5W_20W", "5万–20万元", "¥50k–200k", "VALUE_AFFLUENT"),
    ("AUM_20W_50W", "20万–50万元", "¥200k–500k", "VALUE_AFFLUENT"),
    ("AUM_50W_100W", "50万–100万元", "¥500k–1m", "VALUE_WEALTH"),
    ("AUM_100W_600W", "100万–600万元", "¥1m–6m", "VALUE_WEALTH"),
    ("AUM_600W_3000W", "600万–3000万元（私人银行）", "¥6m–30m (private banking)", "VALUE_PRIVATE"),
    ("AUM_GE_3000W", "3000万元及以上（超高净值）", "¥30m and above (ultra high net worth)", "VALUE_PRIVATE"),
]

RISK_LEVELS = [
    ("RISK_C1", "C1 保守型", "C1 Conservative", "风险承受能力最低，仅适合R1（低风险）产品，以保本保息为主"),
    ("RISK_C2", "C2 稳健型", "C2 Cautious", "可接受R2（中低风险）及以下产品，追求稳定收益"),
    ("RISK_C3", "C3 平衡型", "C3 Balanced", "可接受R3（中风险）及以下产品，在收益与波动之间平衡"),
    ("RISK_C4", "C4 成长型", "C4 Growth", "可接受R4（中高风险）及以下产品，愿意承受较大波动换取增长"),
    ("RISK_C5", "C5 进取型", "C5 Aggressive", "可接受R5（高风险）及以下全部产品，追求高收益"),
]

VALUE_TIERS = [
    ("VALUE_MASS", "大众客户", "Mass", "金融资产5万元以下的基础客户"),
    ("VALUE_AFFLUENT", "富裕客户（金卡）", "Affluent (gold)", "金融资产5万–50万元，对应金卡客户"),
    ("VALUE_WEALTH", "财富客户（白金/钻石）", "Wealth (platinum/diamond)", "金融资产50万–600万元，由理财经理专属服务"),
    ("VALUE_PRIVATE", "私人银行客户", "Private banking", "金融资产600万元及以上，由私人银行中心服务"),
]

LIFE_STAGES = [
    ("LIFE_STUDENT", "在校学生", "Student", "在读大学生及研究生"),
    ("LIFE_NEW_GRAD", "职场新人", "New graduate", "毕业工作3年以内"),
    ("LIFE_YOUNG_SINGLE", "单身青年", "Young single", "已工作、未婚的青年客户"),
    ("LIFE_NEWLYWED", "新婚家庭", "Newlywed", "结婚2年以内、暂无子女"),
    ("LIFE_YOUNG_PARENT", "新手父母", "Young parent", "子女0–6岁的家庭"),
    ("LIFE_SCHOOL_PARENT", "学龄子女家庭", "Parent of school-age children", "子女在读小学或初中"),
    ("LIFE_TEEN_PARENT", "子女升学家庭", "Parent of a teenager", "子女在读高中或面临升学、留学"),
    ("LIFE_MATURE_FAMILY", "成熟家庭", "Mature family", "子女已成年独立的中年家庭"),
    ("LIFE_PRE_RETIREE", "临近退休", "Pre-retiree", "距法定退休年龄5年以内"),
    ("LIFE_RETIREE", "退休人士", "Retiree", "已办理退休、领取养老金"),
    ("LIFE_SENIOR", "高龄长者", "Senior (75+)", "75岁及以上长者，注意适老化服务"),
]

AGE_BANDS = [
    ("AGE_18_24", 18, 24), ("AGE_25_34", 25, 34), ("AGE_35_44", 35, 44),
    ("AGE_45_54", 45, 54), ("AGE_55_64", 55, 64), ("AGE_65_PLUS", 65, 200),
]

OCCUPATIONS = [
    ("OCC_CIVIL_SERVANT", "公务员及事业单位", "Civil servant / public institution"),
    ("OCC_TEACHER", "教师", "Teacher"),
    ("OCC_MEDICAL", "医务人员", "Medical staff"),
    ("OCC_IT", "互联网及IT从业者", "Internet / IT professional"),
    ("OCC_FINANCE", "金融从业者", "Finance professional"),
    ("OCC_SOE", "国企员工", "State-owned enterprise employee"),
    ("OCC_PRIVATE_EMPLOYEE", "民营企业员工", "Private-sector employee"),
    ("OCC_SELF_EMPLOYED", "个体工商户", "Self-employed / sole trader"),
    ("OCC_BUSINESS_OWNER", "企业主", "Business owner"),
    ("OCC_FARMER", "农户", "Farmer"),
    ("OCC_MILITARY", "军人", "Military"),
    ("OCC_FREELANCE", "自由职业者", "Freelancer"),
]
SALARIED = {"OCC_CIVIL_SERVANT", "OCC_TEACHER", "OCC_MEDICAL", "OCC_IT", "OCC_FINANCE", "OCC_SOE",
            "OCC_PRIVATE_EMPLOYEE", "OCC_MILITARY"}

SPEND_BANDS = [
    ("SPEND_LT_1K", "月均消费1千元以下", "Monthly card spend below ¥1k", "1千元以下"),
    ("SPEND_1K_3K", "月均消费1千–3千元", "Monthly card spend ¥1k–3k", "1千至3千元"),
    ("SPEND_3K_5K", "月均消费3千–5千元", "Monthly card spend ¥3k–5k", "3千至5千元"),
    ("SPEND_5K_10K", "月均消费5千–1万元", "Monthly card spend ¥5k–10k", "5千元至1万元"),
    ("SPEND_10K_30K", "月均消费1万–3万元", "Monthly card spend ¥10k–30k", "1万至3万元"),
    ("SPEND_GE_30K", "月均消费3万元以上", "Monthly card spend ¥30k and above", "3万元以上"),
]

# Card-spending scenes: (suffix, Chinese, English)
SPEND_SCENES = [
    ("DINING", "餐饮美食", "dining"), ("TRAVEL", "旅游度假", "travel"),
    ("ONLINE_SHOPPING", "网上购物", "online shopping"), ("SUPERMARKET", "商超便利", "supermarkets"),
    ("FUEL", "加油", "fuel"), ("ENTERTAINMENT", "影音娱乐", "entertainment"),
    ("EDUCATION", "教育培训", "education and training"), ("HEALTHCARE", "医疗健康", "healthcare"),
    ("LUXURY", "奢侈品", "luxury goods"), ("AIRLINE", "航空出行", "air travel"),
    ("HOTEL", "酒店住宿", "hotels"), ("COFFEE", "咖啡茶饮", "coffee and tea"),
    ("GAMING", "游戏", "gaming"), ("DIGITAL", "数码3C", "electronics"),
    ("HOME", "家居家装", "home furnishing"), ("AUTO", "汽车养护", "car care"),
    ("PET", "宠物", "pets"), ("MATERNAL", "母婴", "mother and baby"),
    ("SPORTS", "运动健身", "sports and fitness"), ("BEAUTY", "美妆个护", "beauty and personal care"),
    ("TAKEOUT", "外卖", "food delivery"), ("RIDE_HAILING", "网约车", "ride-hailing"),
]

REWARDS = [
    ("POINTS", "积分兑换", "points redemption"), ("CASHBACK", "立减返现", "instant discounts and cashback"),
    ("LOTTERY", "抽奖活动", "lucky draws"), ("GIFT", "实物礼品", "physical gifts"),
    ("RED_PACKET", "现金红包", "cash red packets"), ("RATE_COUPON", "加息券", "interest-rate coupons"),
    ("MEMBERSHIP", "视频会员等权益", "streaming memberships and perks"),
]

CONTACT_CHANNELS = [
    ("SMS", "短信", "SMS"), ("APP_PUSH", "App推送", "app push"), ("WECHAT", "微信", "WeChat"),
    ("PHONE", "电话", "phone calls"), ("BRANCH", "网点面谈", "meeting at a branch"),
]


def _plain(code: str, zh: str, en: str, desc: str) -> tuple[str, str, str, str]:
    return (code, zh, en, desc)


def _taxonomy() -> dict[str, list[tuple[str, str, str, str]]]:
    """Head office's tags by category: (code, Chinese name, English name, description)."""
    attributes = [
        _plain("GENDER_MALE", "男性", "Male", "证件登记性别为男"),
        _plain("GENDER_FEMALE", "女性", "Female", "证件登记性别为女"),
        *[
            _plain(code, f"{low}岁及以上" if high > 150 else f"{low}–{high}岁",
                   f"Aged {low}+" if high > 150 else f"Aged {low}–{high}",
                   f"按证件出生日期计算，年龄{low}岁及以上" if high > 150 else f"按证件出生日期计算，年龄{low}至{high}岁")
            for code, low, high in AGE_BANDS
        ],
        *[_plain(code, zh, en, f"客户登记职业为{zh}") for code, zh, en in OCCUPATIONS],
        _plain("EDU_HIGH_SCHOOL", "高中及以下学历", "High school or below", "登记学历为高中、中专及以下"),
        _plain("EDU_COLLEGE", "大专学历", "Junior college", "登记学历为大专"),
        _plain("EDU_BACHELOR", "本科学历", "Bachelor's degree", "登记学历为本科"),
        _plain("EDU_POSTGRAD", "硕士及以上学历", "Master's degree or higher", "登记学历为硕士研究生、博士研究生"),
        _plain("RES_LOCAL", "本地户籍", "Local household registration", "户籍所在地与开户机构所在城市一致"),
        _plain("RES_NON_LOCAL", "外地户籍", "Non-local household registration", "户籍所在地在开户机构所在城市以外"),
        _plain("RES_HK_MO_TW", "港澳台居民", "Hong Kong, Macao or Taiwan resident", "持港澳台居民居住证或往来内地通行证开户"),
        _plain("RES_FOREIGN", "外籍客户", "Foreign national", "持外国护照或外国人永久居留身份证开户"),
        _plain("RES_GBA_CROSS_BORDER", "大湾区跨境客户", "Greater Bay Area cross-border customer", "在粤港澳大湾区跨境往来、使用跨境理财通等业务"),
        _plain("OWN_HOME", "有房客户", "Home owner", "本行或征信信息显示名下有住房"),
        _plain("OWN_CAR", "有车客户", "Car owner", "本行信息显示名下有机动车（车贷、ETC、车险等）"),
        _plain("BANK_EMPLOYEE", "本行员工", "Bank employee", "本行在职员工，营销活动通常需排除"),
        _plain("ID_EXPIRING_90D", "证件90天内到期", "ID document expiring within 90 days", "身份证件有效期将在90天内届满，需提醒更新"),
        _plain("ID_EXPIRED", "证件已过期", "ID document expired", "身份证件已过有效期，部分交易受限"),
        _plain("CONTACT_INVALID", "联系方式无效", "Invalid contact details", "预留手机号空号、停机或多次无法接通"),
        _plain("RISK_ASSESS_EXPIRING", "风险测评即将过期", "Risk assessment about to expire", "风险承受能力评估将在30天内过期，购买理财基金前需重新测评"),
        _plain("EVENT_HOME_PURCHASE", "近期购房", "Recently bought a home", "近12个月内发放住房贷款或有购房资金划转"),
        _plain("EVENT_NEW_BABY", "家有新生儿", "New baby in the family", "近12个月内有母婴消费、生育津贴入账等迹象"),
        _plain("EVENT_WEDDING", "筹备婚礼", "Planning a wedding", "近期有婚庆、珠宝、婚纱摄影等消费"),
        _plain("EVENT_STUDY_ABROAD", "子女留学规划", "Planning study abroad for a child", "有留学购汇、境外学费汇款或留学咨询记录"),
    ]

    assets = [
        *[
            _plain(code, f"金融资产{zh}", f"AUM {en}", f"近3个月日均金融资产（存款、理财、基金、保险、贵金属等）{zh.split('（')[0]}")
            for code, zh, en, _value in AUM_TIERS
        ],
        _plain("AUM_UP_3M", "资产上升客户", "AUM rising", "近3个月日均AUM较前3个月增长超过20%"),
        _plain("AUM_DOWN_3M", "资产下降客户", "AUM falling", "近3个月日均AUM较前3个月下降超过20%"),
        _plain("AUM_NEAR_UPGRADE", "临近升级客户", "Close to the next tier", "AUM距离上一价值等级门槛不足10%"),
        _plain("AUM_DOWNGRADE_RISK", "降级预警客户", "At risk of downgrade", "AUM已低于当前价值等级门槛，下月将降级"),
        _plain("DEPOSIT_HEAVY", "存款占比高", "Deposit-heavy portfolio", "金融资产中存款占比超过80%"),
        _plain("IDLE_CASH_5W", "活期沉淀资金5万以上", "Idle current balance above ¥50k", "活期账户日均余额5万元以上且近3个月未购买理财"),
        _plain("TD_MATURING_30D", "定期存款30天内到期", "Time deposit maturing within 30 days", "名下定期存款将在30天内到期"),
        _plain("CD_MATURING_30D", "大额存单30天内到期", "Large CD maturing within 30 days", "名下大额存单将在30天内到期"),
        _plain("WMP_MATURING_30D", "理财30天内到期", "Wealth product maturing within 30 days", "名下封闭式理财产品将在30天内到期"),
        _plain("FUND_LOSS_GT_10", "基金浮亏超过10%", "Fund holdings down over 10%", "基金持仓整体浮亏超过10%，需做好陪伴与安抚"),
        _plain("FUND_GAIN_GT_10", "基金浮盈超过10%", "Fund holdings up over 10%", "基金持仓整体浮盈超过10%，可提示止盈"),
        _plain("NET_INFLOW_5W", "近30天资金净流入超5万", "Net inflow above ¥50k in 30 days", "近30天本行账户资金净流入超过5万元"),
        _plain("NET_OUTFLOW_5W", "近30天资金净流出超5万", "Net outflow above ¥50k in 30 days", "近30天本行账户资金净流出超过5万元"),
        _plain("OUTFLOW_TO_OTHER_BANK", "资金转出他行", "Money moving to other banks", "近30天向本人他行账户转出资金超过2万元"),
        _plain("INFLOW_FROM_OTHER_BANK", "他行资金转入", "Money coming from other banks", "近30天从本人他行账户转入资金超过2万元"),
        _plain("LOAN_BAL_LT_10W", "贷款余额10万元以下", "Loan balance below ¥100k", "个人贷款余额合计10万元以下"),
        _plain("LOAN_BAL_10W_100W", "贷款余额10万–100万元", "Loan balance ¥100k–1m", "个人贷款余额合计10万至100万元"),
        _plain("LOAN_BAL_GE_100W", "贷款余额100万元以上", "Loan balance ¥1m and above", "个人贷款余额合计100万元以上"),
    ]

    products = [
        _plain("HOLD_CURRENT_DEPOSIT", "活期存款", "Current deposit", "持有人民币活期存款账户且有余额"),
        _plain("HOLD_TIME_DEPOSIT", "定期存款", "Time deposit", "持有整存整取、零存整取等定期存款"),
        _plain("HOLD_LARGE_CD", "大额存单", "Large-denomination CD", "持有个人大额存单（起存20万元）"),
        _plain("HOLD_NOTICE_DEPOSIT", "通知存款", "Call deposit", "持有1天或7天个人通知存款"),
        _plain("HOLD_STRUCTURED_DEPOSIT", "结构性存款", "Structured deposit", "持有挂钩利率、汇率或指数的结构性存款"),
        _plain("HOLD_FLEXI_DEPOSIT", "定活两便", "Flexible-term deposit", "持有定活两便存款"),
        _plain("HOLD_RECURRING_DEPOSIT", "零存整取", "Recurring savings deposit", "持有按月存入的零存整取定期存款"),
        _plain("HOLD_FX_DEPOSIT", "外币存款", "Foreign-currency deposit", "持有美元、港币、欧元等外币存款"),
        _plain("HOLD_FUND", "基金客户", "Fund holder", "持有任一公募基金"),
        _plain("HOLD_FUND_MONEY", "货币基金", "Money-market fund", "持有货币市场基金"),
        _plain("HOLD_FUND_BOND", "债券基金", "Bond fund", "持有纯债、短债或二级债基"),
        _plain("HOLD_FUND_EQUITY", "股票型基金", "Equity fund", "持有股票型基金"),
        _plain("HOLD_FUND_MIXED", "混合型基金", "Mixed fund", "持有偏股或平衡混合型基金"),
        _plain("HOLD_FUND_INDEX", "指数基金", "Index fund", "持有指数基金或ETF联接基金"),
        _plain("HOLD_FUND_QDII", "QDII基金", "QDII fund", "持有投资境外市场的QDII基金"),
        _plain("HOLD_FUND_PENSION_FOF", "养老目标基金", "Target-date pension fund", "持有养老目标日期或目标风险FOF"),
        _plain("HOLD_FUND_SIP", "基金定投", "Fund regular investment plan", "有生效中的基金定投计划"),
        _plain("HOLD_WMP", "理财客户", "Wealth product holder", "持有任一银行理财产品"),
        _plain("HOLD_WMP_CASH", "现金管理类理财", "Cash-management wealth product", "持有可随时申赎的现金管理类理财"),
        _plain("HOLD_WMP_FIXED", "固定收益类理财", "Fixed-income wealth product", "持有固定收益类（R2）理财产品"),
        _plain("HOLD_WMP_FIXED_PLUS", "固收+理财", "Fixed-income-plus wealth product", "持有含少量权益资产的固收增强类理财"),
        _plain("HOLD_WMP_EQUITY", "权益及混合类理财", "Equity or mixed wealth product", "持有权益类或混合类（R4及以上）理财"),
        _plain("HOLD_WMP_PENSION", "养老理财", "Pension wealth product", "持有养老理财产品"),
        _plain("HOLD_TRUST", "集合资金信托", "Collective trust plan", "通过本行代销持有集合资金信托计划"),
        _plain("HOLD_FAMILY_TRUST", "家族信托", "Family trust", "设立家族信托（私人银行专属）"),
        _plain("HOLD_PRIVATE_FUND", "私募基金", "Private fund", "通过本行代销持有私募证券或股权基金（合格投资者）"),
        _plain("HOLD_SAVINGS_BOND", "储蓄国债", "Savings treasury bond", "持有凭证式或电子式储蓄国债"),
        _plain("HOLD_OTC_BOND", "柜台债券", "Over-the-counter bond", "通过银行柜台市场持有记账式国债、地方债或政策性金融债"),
        _plain("HOLD_INSURANCE", "保险客户", "Insurance holder", "通过本行代理持有任一保险产品"),
        _plain("HOLD_INS_CRITICAL", "重疾险", "Critical-illness insurance", "持有重大疾病保险"),
        _plain("HOLD_INS_MEDICAL", "医疗险", "Medical insurance", "持有百万医疗险等商业医疗保险"),
        _plain("HOLD_INS_ACCIDENT", "意外险", "Accident insurance", "持有意外伤害保险"),
        _plain("HOLD_INS_ANNUITY", "年金险", "Annuity insurance", "持有养老年金或教育年金保险"),
        _plain("HOLD_INS_WHOLE_LIFE", "增额终身寿险", "Increasing whole-life insurance", "持有增额终身寿险"),
        _plain("HOLD_INS_PARTICIPATING", "分红险", "Participating insurance", "持有分红型保险"),
        _plain("HOLD_INS_EDU", "教育金保险", "Education savings insurance", "为子女投保教育金保险"),
        _plain("HOLD_GOLD_ACCUM", "积存金", "Gold accumulation plan", "持有积存金或有积存金定投"),
        _plain("HOLD_GOLD_BAR", "实物黄金", "Physical gold", "在本行购买过金条、金币等实物贵金属"),
        _plain("HOLD_WEALTH_CONNECT", "跨境理财通", "Cross-boundary Wealth Management Connect",
               "通过粤港澳大湾区跨境理财通购买港澳理财产品"),
        _plain("HOLD_SECURITIES_LINK", "第三方存管", "Brokerage cash link", "签约银证转账或证券第三方存管"),
        _plain("HOLD_DEBIT_CARD", "借记卡", "Debit card", "持有本行有效借记卡"),
        _plain("HOLD_CREDIT_CARD", "信用卡客户", "Credit card holder", "持有任一本行有效信用卡"),
        _plain("HOLD_CC_STANDARD", "信用卡普卡", "Standard credit card", "持有信用卡普卡"),
        _plain("HOLD_CC_GOLD", "信用卡金卡", "Gold credit card", "持有信用卡金卡"),
        _plain("HOLD_CC_PLATINUM", "信用卡白金卡", "Platinum credit card", "持有信用卡白金卡"),
        _plain("HOLD_CC_DIAMOND", "信用卡钻石卡", "Diamond credit card", "持有信用卡钻石卡或无限卡"),
        _plain("HOLD_CC_COBRAND", "联名信用卡", "Co-branded credit card", "持有航空、商超、视频平台等联名信用卡"),
        _plain("HOLD_CC_SUPPLEMENTARY", "信用卡附属卡", "Supplementary credit card", "为家人办理了信用卡附属卡"),
        _plain("HOLD_CC_VIRTUAL", "虚拟信用卡", "Virtual credit card", "持有线上发卡的虚拟信用卡"),
        _plain("HOLD_MORTGAGE", "个人住房贷款", "Home mortgage", "有未结清的个人住房按揭贷款"),
        _plain("HOLD_PROVIDENT_LOAN", "公积金组合贷款", "Housing provident fund loan", "住房贷款含公积金贷款部分"),
        _plain("HOLD_CAR_LOAN", "汽车消费贷款", "Car loan", "有未结清的汽车消费贷款或信用卡购车分期"),
        _plain("HOLD_CONSUMER_LOAN", "个人消费贷款", "Consumer loan", "有未结清的个人消费贷款（装修、教育、旅游等）"),
        _plain("HOLD_ONLINE_LOAN", "线上信用贷", "Online credit loan", "开通手机银行线上信用贷款额度"),
        _plain("HOLD_BUSINESS_LOAN", "个人经营贷款", "Personal business loan", "有未结清的个人经营性贷款"),
        _plain("HOLD_STUDENT_LOAN", "国家助学贷款", "Student loan", "有未结清的国家助学贷款"),
        _plain("HOLD_PAYROLL", "代发工资", "Payroll account", "工资由本行代发（代发工资客户）"),
        _plain("HOLD_PENSION_PAYOUT", "代发养老金", "Pension paid into this bank", "基本养老金由本行代发"),
        _plain("HOLD_SOCIAL_SECURITY_CARD", "社保卡", "Social security card", "持有本行金融功能社会保障卡"),
        _plain("HOLD_PENSION_ACCOUNT", "个人养老金账户", "Private pension account", "在本行开立个人养老金资金账户"),
        _plain("HOLD_ETC", "ETC高速通行卡", "ETC toll tag", "在本行办理ETC高速通行卡"),
        _plain("HOLD_ECNY_WALLET", "数字人民币钱包", "e-CNY wallet", "开立本行运营的数字人民币钱包"),
        _plain("HOLD_UTILITY_AUTOPAY", "代缴水电燃气", "Utility auto-pay", "签约水费、电费、燃气费代扣"),
        _plain("HOLD_SAFE_DEPOSIT_BOX", "保管箱", "Safe deposit box", "租用本行保管箱"),
        _plain("HOLD_SMS_ALERT", "动账短信通知", "Balance-change SMS alerts", "签约账户变动短信通知服务"),
        _plain("HOLD_CAMPUS_CARD", "校园卡", "Campus card", "持有与高校合作发行的校园联名卡"),
    ]

    transactions = [
        _plain("CARD_ACTIVE_30D", "借记卡近30天活跃", "Debit card used in the last 30 days", "借记卡近30天有主动交易"),
        _plain("CARD_ACTIVE_90D", "借记卡近90天活跃", "Debit card used in the last 90 days", "借记卡近90天有主动交易"),
        _plain("CARD_DORMANT_180D", "借记卡半年未动户", "Debit card dormant for 6 months", "借记卡近180天无主动交易"),
        _plain("CARD_DORMANT_1Y", "借记卡一年未动户（睡眠户）", "Debit card dormant for a year", "借记卡近一年无主动交易，列入睡眠户管理"),
        _plain("CC_ACTIVE_90D", "信用卡近90天有消费", "Credit card used in the last 90 days", "信用卡近90天有消费交易"),
        _plain("CC_NEW_ACTIVATED", "信用卡新激活", "Credit card newly activated", "信用卡在近30天内激活"),
        _plain("CC_NOT_ACTIVATED", "信用卡未激活", "Credit card not activated", "信用卡已发卡但尚未激活"),
        _plain("CC_DORMANT_180D", "信用卡半年无消费", "Credit card unused for 6 months", "信用卡近180天无消费交易"),
        *[_plain(code, zh, en, f"近3个月借记卡与信用卡月均消费金额{amount}") for code, zh, en, amount in SPEND_BANDS],
        _plain("TXN_CROSS_BORDER_SPEND", "境外消费", "Spends abroad", "近12个月有境外刷卡或境外线上消费"),
        _plain("TXN_CROSS_BORDER_REMIT", "跨境汇款", "Cross-border remittances", "近12个月有个人跨境汇出汇款"),
        _plain("TXN_FX_PURCHASE", "个人购汇", "Buys foreign currency", "近12个月有个人购汇交易"),
        _plain("TXN_LARGE_IN", "大额资金转入", "Large incoming transfers", "近30天有单笔5万元以上转入"),
        _plain("TXN_LARGE_OUT", "大额资金转出", "Large outgoing transfers", "近30天有单笔5万元以上转出"),
        _plain("TXN_SALARY_IN", "工资入账", "Salary credited", "近3个月每月有工资性收入入账"),
        _plain("TXN_YEAR_END_BONUS", "年终奖入账", "Year-end bonus credited", "近12个月有年终奖等大额奖金入账"),
        _plain("TXN_TAX_REFUND", "个税退税入账", "Income-tax refund credited", "近12个月有个人所得税汇算退税入账"),
        _plain("TXN_PENSION_IN", "养老金入账", "Pension credited", "近3个月每月有养老金入账"),
        _plain("TXN_PROVIDENT_WITHDRAW", "公积金提取入账", "Provident fund withdrawals", "近12个月有住房公积金提取入账"),
        _plain("TXN_CASH_WITHDRAW_FREQ", "频繁取现", "Frequent cash withdrawals", "近3个月月均ATM或柜面取现4次以上"),
        _plain("TXN_CASH_DEPOSIT", "现金存入", "Cash deposits", "近3个月有现金存款"),
        _plain("TXN_TUITION", "学费缴纳", "Pays tuition", "近12个月通过本行缴纳学费或培训费"),
        _plain("TXN_HOSPITAL", "医院缴费", "Hospital payments", "近12个月有医院挂号、缴费交易"),
        _plain("TXN_RENT", "房租支付", "Pays rent", "近6个月有按月房租支付"),
        _plain("CC_INSTALMENT", "账单分期", "Statement instalments", "近12个月办理过信用卡账单分期或消费分期"),
        _plain("CC_CASH_ADVANCE", "信用卡预借现金", "Credit card cash advance", "近12个月使用过信用卡预借现金"),
        _plain("CC_REVOLVER", "循环信用客户", "Revolving balance", "近6个月有未全额还款、使用循环信用"),
        _plain("CC_FULL_PAYER", "全额还款客户", "Pays in full", "近6个月每期全额还款"),
        _plain("CC_AUTOPAY", "信用卡自动还款", "Credit card auto-repayment", "签约借记卡自动还款"),
        _plain("CC_OVERDUE_12M", "近12个月有逾期", "Late payment in the last 12 months", "近12个月信用卡或贷款有逾期记录，营销需谨慎"),
        _plain("CC_HIGH_UTILISATION", "额度使用率高", "High credit utilisation", "信用卡额度使用率超过80%"),
        _plain("PAY_ALIPAY_BOUND", "绑定支付宝", "Linked to Alipay", "本行卡已绑定支付宝快捷支付"),
        _plain("PAY_WECHAT_BOUND", "绑定微信支付", "Linked to WeChat Pay", "本行卡已绑定微信支付"),
        _plain("PAY_UNIONPAY_APP", "云闪付用户", "UnionPay app user", "本行卡已绑定云闪付App"),
        _plain("PAY_ECNY", "数字人民币支付", "Pays with e-CNY", "近90天有数字人民币支付交易"),
        _plain("PAY_MOBILE_WALLET", "手机Pay", "Phone wallet payments", "本行卡已绑定Apple Pay、华为Pay等手机钱包"),
        _plain("PAY_QR_FREQUENT", "扫码支付高频", "Frequent QR payments", "近30天扫码支付20笔以上"),
        _plain("INV_FUND_BUY_90D", "近90天申购基金", "Bought funds in the last 90 days", "近90天有基金申购或定投扣款"),
        _plain("INV_FUND_REDEEM_90D", "近90天赎回基金", "Redeemed funds in the last 90 days", "近90天有基金赎回"),
        _plain("INV_WMP_BUY_90D", "近90天购买理财", "Bought wealth products in the last 90 days", "近90天有理财产品购买"),
        _plain("INV_GOLD_BUY_90D", "近90天购买黄金", "Bought gold in the last 90 days", "近90天有积存金或实物黄金购买"),
        _plain("INV_INS_BUY_12M", "近12个月投保", "Bought insurance in the last 12 months", "近12个月通过本行新投保"),
        _plain("INV_FIRST_PURCHASE", "首购投资客户", "First-time investor", "近90天首次在本行购买基金或理财"),
        _plain("TXN_NIGHT_SPEND", "夜间消费活跃", "Active late-night spender", "近3个月22点后消费笔数占比超过30%"),
        _plain("TXN_WEEKEND_SPEND", "周末消费为主", "Mostly spends at weekends", "近3个月周末消费金额占比超过50%"),
        _plain("TXN_ONLINE_SHOPPING", "网购高频", "Frequent online shopper", "近30天网购交易10笔以上"),
    ]

    channels = [
        _plain("MOBILE_BANK_USER", "手机银行客户", "Mobile banking user", "已开通本行手机银行"),
        _plain("MOBILE_BANK_MAU", "手机银行月活", "Mobile banking monthly active", "近30天登录过手机银行"),
        _plain("MOBILE_BANK_HEAVY", "手机银行高频用户", "Mobile banking heavy user", "近30天登录手机银行10次以上"),
        _plain("MOBILE_BANK_DORMANT", "手机银行沉睡用户", "Mobile banking dormant", "已开通手机银行但近90天未登录"),
        _plain("MOBILE_BANK_NEW_30D", "手机银行新注册", "New mobile banking user", "近30天新注册手机银行"),
        _plain("MOBILE_BANK_ELDER_MODE", "手机银行长辈版用户", "Mobile banking elder mode", "使用手机银行大字版、长辈版"),
        _plain("MOBILE_BANK_FUND_PAGE", "近30天浏览基金频道", "Browsed funds in the app", "近30天在手机银行浏览基金频道3次以上"),
        _plain("MOBILE_BANK_WMP_PAGE", "近30天浏览理财频道", "Browsed wealth products in the app", "近30天在手机银行浏览理财频道3次以上"),
        _plain("MOBILE_BANK_LOAN_PAGE", "近30天浏览贷款频道", "Browsed loans in the app", "近30天在手机银行浏览贷款频道或试算额度"),
        _plain("WEB_BANK_USER", "个人网银客户", "Internet banking user", "已开通个人网上银行（PC端）"),
        _plain("WECHAT_BANK_FOLLOWER", "微信银行关注用户", "WeChat bank follower", "已关注本行微信公众号"),
        _plain("WECHAT_BANK_BOUND", "微信银行绑卡用户", "WeChat bank linked", "已在微信银行绑定本行账户"),
        _plain("WECHAT_MINI_PROGRAM", "小程序用户", "Mini-program user", "近90天使用过本行微信小程序"),
        _plain("WECOM_FRIEND", "企业微信好友", "WeCom contact", "已添加客户经理企业微信"),
        _plain("CC_APP_USER", "信用卡App用户", "Credit card app user", "已注册本行信用卡App"),
        _plain("COUNTER_ONLY", "仅柜面客户", "Counter-only customer", "近12个月仅在网点柜面办理业务，未使用电子渠道"),
        _plain("COUNTER_VISIT_90D", "近90天到店", "Visited a branch in the last 90 days", "近90天在网点办理过业务"),
        _plain("SMART_TELLER_USER", "智能柜台用户", "Smart teller user", "近12个月使用过网点智能柜台"),
        _plain("ATM_USER", "ATM用户", "ATM user", "近90天使用过本行ATM"),
        _plain("PHONE_BANK_USER", "电话银行用户", "Phone banking user", "近12个月拨打过本行客服热线"),
        _plain("ONLINE_ADVISOR_CHAT", "线上理财顾问咨询", "Chatted with an online adviser",
               "近90天通过手机银行在线咨询过理财顾问"),
        _plain("REMOTE_VIDEO_USER", "远程视频银行用户", "Remote video banking user", "近12个月通过远程视频柜员办理业务"),
        _plain("RM_ASSIGNED", "有专属客户经理", "Has a relationship manager", "已分配专属理财经理或私人银行家"),
        _plain("PUSH_ENABLED", "App推送已开启", "App push enabled", "手机银行已开启消息推送"),
        _plain("SMS_MARKETING_OPT_OUT", "拒收营销短信", "Opted out of marketing SMS", "客户退订营销短信，短信渠道不得触达"),
        _plain("CALL_OPT_OUT", "拒绝电话营销", "Opted out of marketing calls", "客户拒绝电话营销，电话渠道不得触达"),
        _plain("COMPLAINT_12M", "近12个月有投诉", "Complained in the last 12 months", "近12个月有客户投诉记录，营销需谨慎"),
        _plain("LIVE_STREAM_VIEWER", "理财直播观众", "Watches wealth live streams", "近90天观看本行理财直播"),
        _plain("MARKETING_CLICK_30D", "近30天点击营销内容", "Clicked marketing in the last 30 days", "近30天点击过短信、推送或微信营销内容"),
        _plain("BRANCH_SALON", "参加网点沙龙", "Attended a branch salon", "近12个月参加过网点理财沙龙或客户活动"),
    ]

    preferences = [
        _plain("PREF_FUND_EQUITY", "偏好股票型基金", "Prefers equity funds", "基金申购以股票型、偏股混合型为主"),
        _plain("PREF_FUND_BOND", "偏好债券基金", "Prefers bond funds", "基金申购以债券基金为主"),
        _plain("PREF_FUND_MIXED", "偏好混合型基金", "Prefers mixed funds", "基金申购以混合型基金为主"),
        _plain("PREF_FUND_INDEX", "偏好指数基金", "Prefers index funds", "基金申购以指数基金、ETF联接为主"),
        _plain("PREF_FUND_QDII", "偏好海外投资", "Prefers overseas funds", "持有或关注QDII基金"),
        _plain("PREF_FUND_MONEY", "偏好货币基金", "Prefers money-market funds", "基金持仓以货币基金为主"),
        _plain("PREF_FUND_SIP", "偏好基金定投", "Prefers regular fund investing", "有两笔以上基金定投计划"),
        _plain("PREF_FUND_PENSION", "偏好养老投资", "Prefers pension investing", "关注养老目标基金与个人养老金产品"),
        _plain("PREF_INS_HEALTH", "关注健康保障", "Interested in health cover", "浏览或咨询过重疾险、医疗险"),
        _plain("PREF_INS_PENSION", "关注养老规划", "Interested in retirement planning", "浏览或咨询过年金险、养老规划"),
        _plain("PREF_INS_EDU", "关注子女教育金", "Interested in education savings", "浏览或咨询过教育金规划"),
        _plain("PREF_INS_LEGACY", "关注财富传承", "Interested in wealth transfer", "咨询过终身寿险、家族信托等传承方案"),
        _plain("PREF_INS_ACCIDENT", "关注意外保障", "Interested in accident cover", "浏览或咨询过意外险、出行险"),
        _plain("PREF_WMP_SHORT", "偏好短期理财", "Prefers short-term products", "理财购买以3个月以内期限为主"),
        _plain("PREF_WMP_LONG", "偏好长期理财", "Prefers long-term products", "理财购买以1年以上期限为主"),
        _plain("PREF_WMP_STEADY", "追求稳健收益", "Prefers steady returns", "偏好R1、R2等级产品"),
        _plain("PREF_WMP_HIGH_YIELD", "追求较高收益", "Seeks higher returns", "偏好R4、R5等级产品"),
        _plain("PREF_LIQUIDITY", "重视流动性", "Values liquidity", "偏好可随时赎回的产品"),
        _plain("PREF_GOLD", "偏好黄金投资", "Prefers gold", "关注或定投积存金、实物黄金"),
        _plain("PREF_FX", "关注外汇", "Interested in foreign exchange", "关注汇率、外币理财"),
        _plain("PREF_GREEN_FINANCE", "关注绿色金融", "Interested in green finance", "关注ESG主题基金、绿色理财与碳账户"),
        *[
            _plain(f"PREF_SPEND_{suffix}", f"{zh}消费偏好", f"Spends on {en}", f"近6个月{zh}类消费金额占比较高")
            for suffix, zh, en in SPEND_SCENES
        ],
        *[
            _plain(f"PREF_REWARD_{suffix}", f"偏好{zh}", f"Likes {en}", f"历史活动中对{zh}类权益响应率较高")
            for suffix, zh, en in REWARDS
        ],
        *[
            _plain(f"PREF_CONTACT_{suffix}", f"偏好{zh}触达", f"Prefers {en}", f"历史营销中通过{zh}触达的响应率最高")
            for suffix, zh, en in CONTACT_CHANNELS
        ],
    ]

    campaign_history = [
        _plain("CAMP_2025_SPRING_RED_PACKET", "2025春节红包活动参与", "Joined the 2025 Spring Festival red packets", "参与2025年春节手机银行红包活动"),
        _plain("CAMP_2025_CC_618", "2025信用卡618返现", "2025 credit card 618 cashback", "参与2025年“618”信用卡消费返现活动并达标"),
        _plain("CAMP_2025_FUND_SIP_TASK", "2025基金定投任务完成", "Completed the 2025 fund SIP tasks", "完成2025年基金定投任务链全部任务"),
        _plain("CAMP_2025_MID_AUTUMN_DRAW", "2025中秋抽奖参与", "Joined the 2025 Mid-Autumn draw", "参与2025年中秋节抽奖活动"),
        _plain("CAMP_LOTTERY_WINNER", "抽奖活动中奖客户", "Won a lucky draw", "在任一抽奖活动中获得奖品"),
        _plain("CAMP_REFERRER", "推荐有礼推荐人", "Referred a friend", "在推荐有礼活动中成功推荐新客户"),
        _plain("CAMP_NEW_CUSTOMER_GIFT", "新客礼领取", "Claimed the new-customer gift", "开户后领取新客专享礼"),
        _plain("CAMP_FLASH_SALE_BUYER", "秒杀活动购买", "Bought in a flash sale", "在积分或现金秒杀活动中成功购买"),
        _plain("CAMP_FATIGUE", "营销疲劳客户", "Marketing fatigue", "近3次活动触达均未响应，建议降低触达频次"),
    ]

    return {
        "attributes": attributes,
        "assets": assets,
        "products": products,
        "transactions": transactions,
        "channels": channels,
        "preferences": preferences,
        "life_stage": [_plain(*row) for row in LIFE_STAGES],
        "risk_level": [_plain(*row) for row in RISK_LEVELS],
        "value_tier": [_plain(*row) for row in VALUE_TIERS],
        "campaign_history": campaign_history,
    }


# Tags a branch keeps for itself: (owner branch code, category, code, zh, en, description)
BRANCH_TAGS = [
    ("BJ", "attributes", "BJ_SOE_PAYROLL", "北京央企代发客户", "Beijing central SOE payroll",
     "工资由北京分行为在京央企代发的客户"),
    ("BJ-HD", "attributes", "BJ_HD_ZGC_TECH", "中关村科技从业者", "Zhongguancun tech worker",
     "在中关村科技园区企业工作的客户（海淀支行维护）"),
    ("SH", "attributes", "SH_LUJIAZUI_FINANCE", "陆家嘴金融从业者", "Lujiazui finance professional",
     "在陆家嘴金融机构工作的客户（上海分行维护）"),
]


# --- customers ----------------------------------------------------------------

BRANCH_WEIGHTS = {"HO": 1, "BJ": 22, "SH": 21, "GZ": 26, "BJ-HD": 15, "SH-PD": 15}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "慕容")
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林洋博昊哲睿轩志国建文海春晨阳峰"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲丹萍红琳雪慧颖倩婷欣怡悦佳晶璐瑶琪萱涵梦雯月莉秀兰桂英淑珍"
MOBILE_PREFIXES = (
    *(str(n) for n in range(130, 140)), "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "176", "177", "178", *(str(n) for n in range(180, 190)), "191", "198", "199",
)

# (low, high, weight): customers are adults, most of working age.
AGE_BRACKETS = [(18, 22, 8), (23, 30, 20), (31, 45, 30), (46, 60, 24), (61, 75, 14), (76, 88, 4)]

# AUM tier weights by age group, in AUM_TIERS order.
AUM_WEIGHTS = {
    "student": [70, 22, 7, 1, 0, 0, 0, 0],
    "young": [34, 30, 22, 9, 3, 1.5, 0.4, 0.1],
    "prime": [18, 22, 25, 16, 9, 7, 2.4, 0.6],
    "middle": [14, 18, 24, 18, 12, 10, 3.2, 0.8],
    "senior": [13, 18, 26, 20, 11, 9, 2.5, 0.5],
    "elder": [20, 22, 25, 16, 9, 6, 1.6, 0.4],
}
# Risk level weights (C1..C5) by age group.
RISK_WEIGHTS = {
    "student": [10, 25, 40, 20, 5],
    "young": [6, 18, 38, 28, 10],
    "prime": [8, 24, 38, 22, 8],
    "middle": [14, 34, 34, 14, 4],
    "senior": [42, 42, 13, 3, 0],
    "elder": [62, 33, 5, 0, 0],
}
FUND_BY_RISK = [0.04, 0.16, 0.42, 0.62, 0.78]
FUND_BY_TIER = [0.2, 0.5, 0.8, 1, 1, 1, 1, 1]
WMP_BY_TIER = [0.02, 0.07, 0.3, 0.45, 0.6, 0.75, 0.88, 0.92]
MOBILE_BY_GROUP = {"student": 0.98, "young": 0.96, "prime": 0.92, "middle": 0.78, "senior": 0.45, "elder": 0.12}
CREDIT_CARD_BY_GROUP = {"student": 0.25, "young": 0.42, "prime": 0.45, "middle": 0.35, "senior": 0.12, "elder": 0.03}
SPEND_SCENES_BY_GROUP = {
    "student": {"TAKEOUT": 6, "ONLINE_SHOPPING": 6, "GAMING": 5, "COFFEE": 4, "DIGITAL": 3, "ENTERTAINMENT": 4, "SPORTS": 2, "BEAUTY": 2},
    "young": {"TAKEOUT": 5, "ONLINE_SHOPPING": 6, "COFFEE": 4, "RIDE_HAILING": 4, "DINING": 4, "TRAVEL": 3, "DIGITAL": 3, "BEAUTY": 3, "PET": 2, "SPORTS": 2, "GAMING": 2, "ENTERTAINMENT": 3},
    "prime": {"DINING": 5, "SUPERMARKET": 4, "ONLINE_SHOPPING": 4, "MATERNAL": 3, "EDUCATION": 3, "TRAVEL": 4, "FUEL": 3, "AUTO": 2, "HOME": 2, "HOTEL": 2, "AIRLINE": 2, "LUXURY": 1, "BEAUTY": 2},
    "middle": {"DINING": 5, "SUPERMARKET": 5, "TRAVEL": 4, "FUEL": 3, "AUTO": 2, "HEALTHCARE": 3, "EDUCATION": 2, "HOTEL": 2, "AIRLINE": 2, "LUXURY": 1, "HOME": 2},
    "senior": {"SUPERMARKET": 6, "HEALTHCARE": 5, "TRAVEL": 3, "DINING": 3},
    "elder": {"SUPERMARKET": 6, "HEALTHCARE": 6},
}
REWARDS_BY_GROUP = {
    "student": {"CASHBACK": 4, "MEMBERSHIP": 5, "LOTTERY": 3, "RED_PACKET": 4},
    "young": {"CASHBACK": 5, "MEMBERSHIP": 4, "LOTTERY": 3, "RED_PACKET": 4, "POINTS": 2},
    "prime": {"CASHBACK": 4, "POINTS": 4, "RED_PACKET": 3, "RATE_COUPON": 2, "GIFT": 2},
    "middle": {"POINTS": 4, "RATE_COUPON": 3, "GIFT": 3, "CASHBACK": 3, "RED_PACKET": 2},
    "senior": {"GIFT": 5, "RATE_COUPON": 4, "RED_PACKET": 3, "POINTS": 2},
    "elder": {"GIFT": 5, "RATE_COUPON": 3, "RED_PACKET": 2},
}


def _age_group(age: int) -> str:
    if age <= 22:
        return "student"
    if age <= 30:
        return "young"
    if age <= 45:
        return "prime"
    if age <= 60:
        return "middle"
    return "senior" if age <= 75 else "elder"


def _life_stage(rng: random.Random, age: int) -> str:
    if age <= 22:
        options = {"LIFE_STUDENT": 85, "LIFE_NEW_GRAD": 15}
    elif age <= 26:
        options = {"LIFE_NEW_GRAD": 50, "LIFE_YOUNG_SINGLE": 35, "LIFE_NEWLYWED": 15}
    elif age <= 34:
        options = {"LIFE_YOUNG_SINGLE": 30, "LIFE_NEWLYWED": 25, "LIFE_YOUNG_PARENT": 45}
    elif age <= 44:
        options = {"LIFE_YOUNG_PARENT": 20, "LIFE_SCHOOL_PARENT": 55, "LIFE_TEEN_PARENT": 20, "LIFE_YOUNG_SINGLE": 5}
    elif age <= 54:
        options = {"LIFE_TEEN_PARENT": 45, "LIFE_MATURE_FAMILY": 50, "LIFE_SCHOOL_PARENT": 5}
    elif age <= 62:
        options = {"LIFE_PRE_RETIREE": 60, "LIFE_MATURE_FAMILY": 25, "LIFE_RETIREE": 15}
    elif age <= 74:
        options = {"LIFE_RETIREE": 95, "LIFE_PRE_RETIREE": 5}
    else:
        options = {"LIFE_SENIOR": 80, "LIFE_RETIREE": 20}
    return rng.choices(list(options), weights=list(options.values()))[0]


class _Customer:
    """One customer being drawn: the facts decided so far, and the tag codes.

    Facts that later draws depend on are read back from the tags (``has``), so
    the correlations are written once, where the tag is drawn.
    """

    def __init__(self, rng: random.Random, today: dt.date, branch_code: str):
        self.rng = rng
        self.tags: list[str] = []
        self.branch_code = branch_code
        low, high, _weight = rng.choices(AGE_BRACKETS, weights=[b[2] for b in AGE_BRACKETS])[0]
        self.age = rng.randint(low, high)
        self.group = _age_group(self.age)
        self.female = rng.random() < 0.51
        # Opened at 16 at the earliest, within the last 15 years, most of them recently.
        max_days = min(15 * 365, max(30, (self.age - 16) * 365))
        self.days = int(max_days * rng.random() ** 1.8)
        self.opened_on = today - dt.timedelta(days=self.days)
        self.stage = _life_stage(rng, self.age)
        self.retired = self.stage in ("LIFE_RETIREE", "LIFE_SENIOR")
        self.occupation: str | None = None
        self.tier = 0
        self.risk = 0
        self.funds: list[str] = []

    def has(self, code: str) -> bool:
        return code in self.tags

    def add(self, code: str) -> None:
        self.tags.append(code)

    def maybe(self, code: str, p: float) -> bool:
        if self.rng.random() < p:
            self.tags.append(code)
            return True
        return False

    def pick(self, weights: dict[str, float], k: int = 1, prefix: str = "") -> list[str]:
        """``k`` distinct codes drawn by weight."""
        pool = dict(weights)
        chosen = []
        for _ in range(min(k, len(pool))):
            code = self.rng.choices(list(pool), weights=list(pool.values()))[0]
            del pool[code]
            chosen.append(code)
            self.tags.append(prefix + code)
        return chosen


def _draw_attributes(c: _Customer) -> None:
    c.add("GENDER_FEMALE" if c.female else "GENDER_MALE")
    c.add(next(code for code, low, high in AGE_BANDS if low <= c.age <= high))
    c.add(c.stage)
    # Occupation, education and residence are often missing from a bank's records.
    if c.stage != "LIFE_STUDENT" and not c.retired and c.rng.random() < 0.3:
        c.occupation = c.pick({
            "OCC_PRIVATE_EMPLOYEE": 26, "OCC_SOE": 12,
            "OCC_IT": (20 if c.branch_code == "BJ-HD" else 9) if c.age < 45 else 3,
            "OCC_CIVIL_SERVANT": 8, "OCC_TEACHER": 6, "OCC_MEDICAL": 5,
            "OCC_FINANCE": 14 if c.branch_code in ("SH", "SH-PD") else 4,
            "OCC_SELF_EMPLOYED": 12, "OCC_BUSINESS_OWNER": 4 if c.age > 28 else 1,
            "OCC_FARMER": 5 if c.branch_code == "GZ" else 2, "OCC_MILITARY": 1, "OCC_FREELANCE": 5,
        })[0]
    if c.rng.random() < 0.06:
        c.pick({"EDU_HIGH_SCHOOL": 3 if c.age > 45 else 1, "EDU_COLLEGE": 2,
                "EDU_BACHELOR": 3 if c.age < 45 else 1, "EDU_POSTGRAD": 1 if c.age < 50 else 0.2})
    if c.rng.random() < 0.004:
        c.add("RES_FOREIGN")
    elif c.branch_code == "GZ" and c.rng.random() < 0.03:
        c.add("RES_HK_MO_TW")
    elif c.rng.random() < 0.06:
        c.add("RES_NON_LOCAL" if c.rng.random() < (0.5 if c.age < 35 else 0.25) else "RES_LOCAL")
    if c.branch_code == "GZ":
        c.maybe("RES_GBA_CROSS_BORDER", 0.04)
    c.maybe("BANK_EMPLOYEE", 0.003)
    if not c.maybe("ID_EXPIRING_90D", 0.02):
        c.maybe("ID_EXPIRED", 0.005)
    c.maybe("CONTACT_INVALID", 0.01)


def _draw_assets(c: _Customer) -> None:
    """AUM tier (business owners and financiers a tier up), value tier from AUM, risk level."""
    c.tier = c.rng.choices(range(len(AUM_TIERS)), weights=AUM_WEIGHTS[c.group])[0]
    if c.occupation in ("OCC_BUSINESS_OWNER", "OCC_FINANCE") and c.tier < len(AUM_TIERS) - 1 and c.rng.random() < 0.5:
        c.tier += 1
    aum_code, _zh, _en, value_code = AUM_TIERS[c.tier]
    c.add(aum_code)
    c.add(value_code)
    weights = list(RISK_WEIGHTS[c.group])
    if c.tier >= 4:  # the wealthy are advised into balanced portfolios
        weights = [w * f for w, f in zip(weights, (0.6, 1, 1.6, 1.4, 1.2), strict=True)]
    c.risk = c.rng.choices(range(5), weights=weights)[0]
    c.add(RISK_LEVELS[c.risk][0])
    # What the bank knows of (a mortgage, a car loan, ETC, car insurance), not all that exists.
    c.maybe("OWN_HOME", {"student": 0.01, "young": 0.04}.get(c.group, 0.1 + 0.02 * c.tier))
    c.maybe("OWN_CAR", 0.01 if c.group == "student" else (0.08 if c.age < 61 else 0.03) + 0.015 * c.tier)


def _draw_products(c: _Customer) -> None:
    rng, tier, risk, age, group = c.rng, c.tier, c.risk, c.age, c.group
    c.maybe("HOLD_DEBIT_CARD", 0.03)
    c.maybe("HOLD_CURRENT_DEPOSIT", 0.02)
    td = {"student": 0.01, "young": 0.05, "prime": 0.1, "middle": 0.2, "senior": 0.55, "elder": 0.65}[group]
    c.maybe("HOLD_TIME_DEPOSIT", td + (0.06 if tier >= 2 else 0))
    if tier >= 3:  # a large CD starts at 200,000
        c.maybe("HOLD_LARGE_CD", (0.15, 0.3, 0.5, 0.7, 0.75)[tier - 3] + (0.1 if risk <= 1 else 0))
    if tier >= 4:
        c.maybe("HOLD_NOTICE_DEPOSIT", 0.08)
    if tier >= 2:
        c.maybe("HOLD_STRUCTURED_DEPOSIT", 0.03 * tier)
    c.maybe("HOLD_FLEXI_DEPOSIT", 0.03 if c.retired else 0.005)
    c.maybe("HOLD_RECURRING_DEPOSIT", 0.04 if group in ("young", "prime") else 0.01)
    c.maybe("HOLD_FX_DEPOSIT", 0.15 if tier >= 4 else 0.01)

    # Funds follow the risk level (and need some money).
    if c.maybe("HOLD_FUND", FUND_BY_RISK[risk] * FUND_BY_TIER[tier]):
        kinds = ({"MONEY": 5, "BOND": 4} if risk <= 1 else
                 {"BOND": 4, "MIXED": 3, "INDEX": 3, "MONEY": 2} if risk == 2 else
                 {"EQUITY": 4, "MIXED": 4, "INDEX": 3, "QDII": 2, "BOND": 1})
        c.funds = c.pick(kinds, k=rng.choice((1, 1, 1, 1, 2)), prefix="HOLD_FUND_")
        if group in ("young", "prime", "middle"):
            c.maybe("HOLD_FUND_SIP", 0.25)
        if 35 <= age <= 60:
            c.maybe("HOLD_FUND_PENSION_FOF", 0.06)

    # Wealth management follows AUM; private banking adds trusts and private funds.
    if c.maybe("HOLD_WMP", min(0.97, WMP_BY_TIER[tier] + (0.1 if c.retired else 0))) and rng.random() < 0.7:
        c.pick({"CASH": 4, "FIXED": 6, **({"FIXED_PLUS": 3} if risk >= 2 else {}),
                **({"EQUITY": 2} if risk >= 3 else {}), **({"PENSION": 1} if age >= 40 else {})},
               prefix="HOLD_WMP_")
    if tier >= 6:
        c.maybe("HOLD_TRUST", 0.45)
        c.maybe("HOLD_FAMILY_TRUST", 0.15 if tier == 6 else 0.4)
        c.maybe("HOLD_PRIVATE_FUND", 0.5 if risk >= 3 else 0.25)
        c.maybe("HOLD_SAFE_DEPOSIT_BOX", 0.25)
    elif tier == 5:
        c.maybe("HOLD_TRUST", 0.06)
        c.maybe("HOLD_SAFE_DEPOSIT_BOX", 0.08)
    c.maybe("HOLD_SAVINGS_BOND", 0.15 if c.retired else 0.01)
    if tier >= 3:
        c.maybe("HOLD_OTC_BOND", 0.03)
    if c.has("RES_GBA_CROSS_BORDER") and tier >= 2:
        c.maybe("HOLD_WEALTH_CONNECT", 0.3)
    if risk >= 2:
        c.maybe("HOLD_SECURITIES_LINK", 0.04 if risk == 2 else 0.15)

    if c.maybe("HOLD_INSURANCE", min(0.8, 0.02 + 0.05 * tier + (0.04 if 30 <= age <= 60 else 0))) and rng.random() < 0.7:
        kinds = {"MEDICAL": 4, "ACCIDENT": 2}
        if age < 50:
            kinds["CRITICAL"] = 4
        if age >= 40 or tier >= 4:
            kinds["ANNUITY"] = 3
        if tier >= 4:
            kinds["WHOLE_LIFE"] = 4
        if c.retired or risk <= 1:
            kinds["PARTICIPATING"] = 2
        if c.stage in ("LIFE_YOUNG_PARENT", "LIFE_SCHOOL_PARENT"):
            kinds["EDU"] = 3
        c.pick(kinds, prefix="HOLD_INS_")
    c.maybe("HOLD_GOLD_ACCUM", 0.02 + 0.015 * tier)
    if tier >= 3:
        c.maybe("HOLD_GOLD_BAR", 0.05)

    # Cards: the credit card's grade follows AUM.
    if c.maybe("HOLD_CREDIT_CARD", CREDIT_CARD_BY_GROUP[group]):
        grade = ("STANDARD", "STANDARD", "GOLD", "GOLD", "PLATINUM", "PLATINUM", "DIAMOND", "DIAMOND")[tier]
        if grade == "STANDARD" and rng.random() < 0.3:
            grade = "GOLD"
        c.add(f"HOLD_CC_{grade}")
        c.maybe("HOLD_CC_COBRAND", 0.05)
        c.maybe("HOLD_CC_SUPPLEMENTARY", 0.05 if tier >= 4 else 0.01)
        c.maybe("HOLD_CC_VIRTUAL", 0.06 if age < 35 else 0.01)
    if c.stage == "LIFE_STUDENT":
        c.maybe("HOLD_CAMPUS_CARD", 0.3)

    # Loans.
    if c.has("OWN_HOME") and age < 58 and c.maybe("HOLD_MORTGAGE", 0.6):
        c.maybe("HOLD_PROVIDENT_LOAN", 0.4 if c.occupation in SALARIED else 0.1)
        if age < 40:
            c.maybe("EVENT_HOME_PURCHASE", 0.2)
    if c.has("OWN_CAR"):
        c.maybe("HOLD_CAR_LOAN", 0.2)
        c.maybe("HOLD_ETC", 0.5)
    if group in ("young", "prime"):
        c.maybe("HOLD_CONSUMER_LOAN", 0.06 if tier <= 2 else 0.02)
    if group in ("young", "prime", "middle") and tier <= 4:
        c.maybe("HOLD_ONLINE_LOAN", 0.05)
    if c.occupation in ("OCC_SELF_EMPLOYED", "OCC_BUSINESS_OWNER"):
        c.maybe("HOLD_BUSINESS_LOAN", 0.3)
    if c.stage == "LIFE_STUDENT":
        c.maybe("HOLD_STUDENT_LOAN", 0.05)
    if any(c.has(f"HOLD_{kind}_LOAN") for kind in ("CAR", "CONSUMER", "ONLINE", "BUSINESS", "STUDENT")) or c.has("HOLD_MORTGAGE"):
        if c.has("HOLD_MORTGAGE") or c.has("HOLD_BUSINESS_LOAN"):
            c.maybe("LOAN_BAL_GE_100W" if tier >= 4 and rng.random() < 0.5 else "LOAN_BAL_10W_100W", 0.4)
        else:
            c.maybe("LOAN_BAL_LT_10W", 0.4)

    # Payroll, pension and everyday services.
    if c.occupation in SALARIED:
        c.maybe("HOLD_PAYROLL", 0.45)
    if c.retired:
        c.maybe("HOLD_PENSION_PAYOUT", 0.45)
    c.maybe("HOLD_SOCIAL_SECURITY_CARD", 0.2 if c.retired else 0.02)
    if 30 <= age <= 59:
        c.maybe("HOLD_PENSION_ACCOUNT", 0.03 + 0.02 * tier)
    c.maybe("HOLD_ECNY_WALLET", 0.03 if age < 45 else 0.01)
    c.maybe("HOLD_UTILITY_AUTOPAY", 0.06 if c.has("OWN_HOME") else 0.015)
    c.maybe("HOLD_SMS_ALERT", 0.06 if age > 45 else 0.02)


def _draw_channels(c: _Customer) -> None:
    age, wealth = c.age, c.has("HOLD_FUND") or c.has("HOLD_WMP")
    if c.maybe("MOBILE_BANK_USER", MOBILE_BY_GROUP[c.group]):
        if c.maybe("MOBILE_BANK_MAU", 0.35 if age < 46 else 0.25):
            c.maybe("MOBILE_BANK_HEAVY", 0.05 + (0.1 if wealth else 0))
            if wealth:
                c.maybe("MOBILE_BANK_FUND_PAGE", 0.12)
                c.maybe("MOBILE_BANK_WMP_PAGE", 0.12)
            c.maybe("MOBILE_BANK_LOAN_PAGE", 0.05 if age < 45 else 0.01)
        else:
            c.maybe("MOBILE_BANK_DORMANT", 0.2)
        if c.days < 30:
            c.maybe("MOBILE_BANK_NEW_30D", 0.8)
        if age >= 60:
            c.maybe("MOBILE_BANK_ELDER_MODE", 0.3)
        c.maybe("PUSH_ENABLED", 0.03)
    c.maybe("WEB_BANK_USER", 0.05 if 30 <= age <= 60 else 0.01)
    if c.maybe("WECHAT_BANK_FOLLOWER", 0.06 if age < 61 else 0.03):
        c.maybe("WECHAT_BANK_BOUND", 0.4)
        c.maybe("WECHAT_MINI_PROGRAM", 0.15)
    if c.has("HOLD_CREDIT_CARD"):
        c.maybe("CC_APP_USER", 0.12 if age < 46 else 0.05)
    if not c.has("MOBILE_BANK_USER") and not c.has("WEB_BANK_USER"):
        c.maybe("COUNTER_ONLY", 0.4)
    c.maybe("COUNTER_VISIT_90D", 0.15 if c.retired else 0.02)
    c.maybe("SMART_TELLER_USER", 0.02)
    c.maybe("ATM_USER", 0.06 if age > 45 else 0.02)
    c.maybe("PHONE_BANK_USER", 0.06 if c.retired else 0.01)
    c.maybe("REMOTE_VIDEO_USER", 0.01)
    if c.maybe("RM_ASSIGNED", (0, 0, 0, 0.05, 0.6, 0.9, 1, 1)[c.tier]):
        c.maybe("WECOM_FRIEND", 0.3)
    c.maybe("SMS_MARKETING_OPT_OUT", 0.03)
    c.maybe("CALL_OPT_OUT", 0.02)
    c.maybe("COMPLAINT_12M", 0.01)
    if wealth:
        c.maybe("LIVE_STREAM_VIEWER", 0.06)
        c.maybe("ONLINE_ADVISOR_CHAT", 0.04 if c.has("MOBILE_BANK_MAU") else 0.005)
    c.maybe("MARKETING_CLICK_30D", 0.06 if c.has("MOBILE_BANK_MAU") else 0.01)
    if c.tier >= 3:
        c.maybe("BRANCH_SALON", 0.06)


def _draw_transactions(c: _Customer) -> None:
    rng, tier, age = c.rng, c.tier, c.age
    credit_card = c.has("HOLD_CREDIT_CARD")
    if c.maybe("CARD_ACTIVE_30D", 0.06 if not c.retired or c.has("HOLD_PENSION_PAYOUT") else 0.03):
        c.add("CARD_ACTIVE_90D")
    elif not c.maybe("CARD_ACTIVE_90D", 0.06) and c.maybe("CARD_DORMANT_180D", 0.08):
        c.maybe("CARD_DORMANT_1Y", 0.5)
    active = c.has("CARD_ACTIVE_90D") or credit_card
    if active and rng.random() < 0.2:
        shift = min(tier, 5) + (1 if credit_card else 0) - (2 if c.group in ("student", "elder") else 0)
        band = max(0, min(len(SPEND_BANDS) - 1, round(rng.gauss(0.5 + shift * 0.55, 0.9))))
        c.add(SPEND_BANDS[band][0])
    if credit_card:
        if c.days < 30:
            c.add("CC_NEW_ACTIVATED")
        elif not c.maybe("CC_NOT_ACTIVATED", 0.03) and not c.maybe("CC_ACTIVE_90D", 0.2):
            c.maybe("CC_DORMANT_180D", 0.1)
        if c.maybe("CC_REVOLVER", 0.1 if tier <= 2 else 0.03):
            c.maybe("CC_HIGH_UTILISATION", 0.3)
        else:
            c.maybe("CC_FULL_PAYER", 0.1)
        c.maybe("CC_INSTALMENT", 0.1 if age < 35 else 0.04)
        c.maybe("CC_CASH_ADVANCE", 0.02)
        c.maybe("CC_AUTOPAY", 0.1)
        c.maybe("CC_OVERDUE_12M", 0.02)
    travels = tier >= 4 or c.has("HOLD_FX_DEPOSIT")
    c.maybe("TXN_CROSS_BORDER_SPEND", 0.2 if travels else 0.01)
    if c.stage == "LIFE_TEEN_PARENT" and tier >= 3 and c.maybe("EVENT_STUDY_ABROAD", 0.15):
        c.maybe("TXN_CROSS_BORDER_REMIT", 0.6)
        c.add("TXN_FX_PURCHASE")
    elif travels:
        c.maybe("TXN_FX_PURCHASE", 0.1)
    if tier >= 3:
        c.maybe("TXN_LARGE_IN", 0.03 * tier)
        c.maybe("TXN_LARGE_OUT", 0.02 * tier)
    if c.has("HOLD_PAYROLL"):
        c.maybe("TXN_SALARY_IN", 0.3)
        c.maybe("TXN_YEAR_END_BONUS", 0.1)
    c.maybe("TXN_TAX_REFUND", 0.01 if c.occupation in SALARIED else 0.002)
    if c.has("HOLD_PENSION_PAYOUT"):
        c.maybe("TXN_PENSION_IN", 0.3)
    if c.has("HOLD_PROVIDENT_LOAN"):
        c.maybe("TXN_PROVIDENT_WITHDRAW", 0.3)
    c.maybe("TXN_CASH_WITHDRAW_FREQ", 0.12 if c.retired or c.occupation == "OCC_FARMER" else 0.01)
    c.maybe("TXN_CASH_DEPOSIT", 0.2 if c.occupation in ("OCC_SELF_EMPLOYED", "OCC_FARMER") else 0.01)
    if c.stage in ("LIFE_STUDENT", "LIFE_SCHOOL_PARENT", "LIFE_TEEN_PARENT"):
        c.maybe("TXN_TUITION", 0.08)
    c.maybe("TXN_HOSPITAL", 0.06 if age > 60 else 0.01)
    if not c.has("OWN_HOME") and c.group in ("young", "prime"):
        c.maybe("TXN_RENT", 0.04)
    if c.has("MOBILE_BANK_USER"):
        c.maybe("PAY_ALIPAY_BOUND", 0.05 if age < 46 else 0.02)
        c.maybe("PAY_WECHAT_BOUND", 0.06 if age < 46 else 0.03)
        c.maybe("PAY_UNIONPAY_APP", 0.03)
        c.maybe("PAY_ECNY", 0.01)
        c.maybe("PAY_MOBILE_WALLET", 0.03 if age < 40 else 0.01)
        c.maybe("PAY_QR_FREQUENT", 0.03 if age < 46 else 0.01)
    if c.funds:
        c.maybe("INV_FUND_BUY_90D", 0.5 if c.has("HOLD_FUND_SIP") else 0.15)
        c.maybe("INV_FUND_REDEEM_90D", 0.08)
        if rng.random() < 0.25:
            c.add("FUND_LOSS_GT_10" if c.risk >= 3 and rng.random() < 0.5 else "FUND_GAIN_GT_10")
    if c.has("HOLD_WMP"):
        c.maybe("INV_WMP_BUY_90D", 0.15)
        c.maybe("WMP_MATURING_30D", 0.08)
    if c.funds or c.has("HOLD_WMP"):
        if c.days < 365:
            c.maybe("INV_FIRST_PURCHASE", 0.3)
        c.maybe("RISK_ASSESS_EXPIRING", 0.03)
    if c.has("HOLD_GOLD_ACCUM") or c.has("HOLD_GOLD_BAR"):
        c.maybe("INV_GOLD_BUY_90D", 0.2)
    if c.has("HOLD_INSURANCE"):
        c.maybe("INV_INS_BUY_12M", 0.1)
    if active and age < 35:
        c.maybe("TXN_NIGHT_SPEND", 0.06)
        c.maybe("TXN_ONLINE_SHOPPING", 0.1)
    if active:
        c.maybe("TXN_WEEKEND_SPEND", 0.03)

    # Movements and maturities of assets.
    if c.has("HOLD_TIME_DEPOSIT"):
        c.maybe("TD_MATURING_30D", 0.08)
    if c.has("HOLD_LARGE_CD"):
        c.maybe("CD_MATURING_30D", 0.08)
    if tier >= 1 and not c.maybe("AUM_UP_3M", 0.03):
        c.maybe("AUM_DOWN_3M", 0.03)
    if not c.maybe("AUM_NEAR_UPGRADE", 0.03) and tier >= 2:
        c.maybe("AUM_DOWNGRADE_RISK", 0.02)
    if c.risk <= 1 and not c.funds and not c.has("HOLD_WMP") and tier >= 1:
        c.maybe("DEPOSIT_HEAVY", 0.2)
    if tier >= 2 and not c.has("HOLD_WMP"):
        c.maybe("IDLE_CASH_5W", 0.15)
    if not c.maybe("NET_INFLOW_5W", 0.005 + 0.01 * tier):
        c.maybe("NET_OUTFLOW_5W", 0.005 + 0.008 * tier)
    if not c.maybe("OUTFLOW_TO_OTHER_BANK", 0.015):
        c.maybe("INFLOW_FROM_OTHER_BANK", 0.02)


def _draw_preferences(c: _Customer) -> None:
    rng, age, stage = c.rng, c.age, c.stage
    for kind in c.funds:
        c.maybe(f"PREF_FUND_{kind}", 0.2)
    if c.has("HOLD_FUND_SIP"):
        c.maybe("PREF_FUND_SIP", 0.3)
    if c.has("HOLD_FUND_PENSION_FOF") or c.has("HOLD_PENSION_ACCOUNT"):
        c.maybe("PREF_FUND_PENSION", 0.3)
    if stage in ("LIFE_YOUNG_PARENT", "LIFE_SCHOOL_PARENT", "LIFE_TEEN_PARENT"):
        c.maybe("PREF_INS_EDU", 0.06)
    c.maybe("PREF_INS_PENSION", 0.05 if age >= 45 else 0.01)
    c.maybe("PREF_INS_HEALTH", 0.03)
    if c.tier >= 6:
        c.maybe("PREF_INS_LEGACY", 0.4)
    c.maybe("PREF_INS_ACCIDENT", 0.01)
    if c.has("HOLD_WMP"):
        if not c.maybe("PREF_WMP_SHORT", 0.12):
            c.maybe("PREF_WMP_LONG", 0.1)
        if c.risk <= 1:
            c.maybe("PREF_WMP_STEADY", 0.25)
    if c.risk >= 3 and (c.funds or c.has("HOLD_WMP") or c.has("HOLD_SECURITIES_LINK")):
        c.maybe("PREF_WMP_HIGH_YIELD", 0.2)
    if age < 35:
        c.maybe("PREF_LIQUIDITY", 0.03)
    if c.has("HOLD_GOLD_ACCUM") or c.has("HOLD_GOLD_BAR"):
        c.maybe("PREF_GOLD", 0.4)
    if c.has("HOLD_FX_DEPOSIT"):
        c.maybe("PREF_FX", 0.3)
    c.maybe("PREF_GREEN_FINANCE", 0.02 if age < 40 else 0.005)
    if (c.has("CARD_ACTIVE_90D") or c.has("HOLD_CREDIT_CARD")) and rng.random() < 0.15:
        scenes = dict(SPEND_SCENES_BY_GROUP[c.group])
        if stage in ("LIFE_YOUNG_PARENT", "LIFE_NEWLYWED"):
            scenes["MATERNAL" if stage == "LIFE_YOUNG_PARENT" else "HOME"] = 8
        if c.female:
            scenes["BEAUTY"] = scenes.get("BEAUTY", 1) * 2
        if c.has("OWN_CAR"):
            scenes["FUEL"] = scenes.get("FUEL", 1) + 3
        c.pick(scenes, k=rng.choice((1, 1, 2)), prefix="PREF_SPEND_")
    if rng.random() < 0.06:
        c.pick(REWARDS_BY_GROUP[c.group], prefix="PREF_REWARD_")
    if rng.random() < 0.04:
        mobile = c.has("MOBILE_BANK_USER")
        c.pick({"APP_PUSH": 5, "WECHAT": 3, "SMS": 2} if mobile else {"SMS": 3, "PHONE": 2, "BRANCH": 4},
               prefix="PREF_CONTACT_")
    if stage == "LIFE_YOUNG_PARENT":
        c.maybe("EVENT_NEW_BABY", 0.15)
    if stage == "LIFE_NEWLYWED":
        c.maybe("EVENT_WEDDING", 0.15)


def _draw_campaign_history(c: _Customer) -> None:
    if c.has("MOBILE_BANK_MAU"):
        if c.maybe("CAMP_2025_MID_AUTUMN_DRAW", 0.05):
            c.maybe("CAMP_LOTTERY_WINNER", 0.3)
        c.maybe("CAMP_2025_SPRING_RED_PACKET", 0.08)
        c.maybe("CAMP_FLASH_SALE_BUYER", 0.02)
    if c.has("HOLD_CREDIT_CARD"):
        c.maybe("CAMP_2025_CC_618", 0.08)
    if c.has("HOLD_FUND_SIP"):
        c.maybe("CAMP_2025_FUND_SIP_TASK", 0.15)
    if c.days < 365:
        c.maybe("CAMP_NEW_CUSTOMER_GIFT", 0.2)
    c.maybe("CAMP_REFERRER", 0.01)
    c.maybe("CAMP_FATIGUE", 0.02)


def _draw_branch_tags(c: _Customer) -> None:
    if c.branch_code in ("BJ", "BJ-HD") and c.occupation == "OCC_SOE" and c.has("HOLD_PAYROLL"):
        c.maybe("BJ_SOE_PAYROLL", 0.6)
    if c.branch_code == "BJ-HD" and c.occupation == "OCC_IT":
        c.maybe("BJ_HD_ZGC_TECH", 0.7)
    if c.branch_code in ("SH", "SH-PD") and c.occupation == "OCC_FINANCE":
        c.maybe("SH_LUJIAZUI_FINANCE", 0.7)


def _customer(rng: random.Random, today: dt.date, branch_code: str) -> _Customer:
    c = _Customer(rng, today, branch_code)
    for draw in (_draw_attributes, _draw_assets, _draw_products, _draw_channels,
                 _draw_transactions, _draw_preferences, _draw_campaign_history, _draw_branch_tags):
        draw(c)
    return c


def _name(rng: random.Random, female: bool) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choice(SURNAMES)
    pool = GIVEN_FEMALE if female else GIVEN_MALE
    given = rng.choice(pool) if rng.random() < 0.35 else rng.choice(pool) + rng.choice(pool)
    return surname + given


def _phone(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


# --- seeding ------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help=f"Demo customers to create when there are none yet (default {DEFAULT_CUSTOMERS:,}).",
    )


def _branch_admin(code: str) -> User:
    return User.objects.get(username=f"{code.lower()}.admin")


@transaction.atomic
def _seed_taxonomy() -> tuple[int, int]:
    """Create the categories and tags whose codes are missing; returns (categories, tags) created."""
    admin = _branch_admin("HO")
    head_office = admin.branch
    categories = {c.code: c for c in TagCategory.objects.all()}
    new_categories = 0
    for order, (code, zh, en, desc) in enumerate(CATEGORIES, start=1):
        if code not in categories:
            categories[code] = services.tag_category_save(
                actor=admin, code=code, name_zh=zh, name_en=en, order=order, description=desc
            )
            new_categories += 1
    existing = set(Tag.objects.values_list("code", flat=True))
    wanted = [
        (admin, head_office, category, row)
        for category, rows in _taxonomy().items()
        for row in rows
    ]
    owners = {code: _branch_admin(code) for code, *_rest in BRANCH_TAGS}
    wanted += [(owners[owner], owners[owner].branch, category, row) for owner, category, *row in BRANCH_TAGS]
    new_tags = 0
    for actor, owner, category, (code, zh, en, desc) in wanted:
        if code in existing:
            continue
        services.tag_save(
            actor=actor, code=code, name_zh=zh, name_en=en, category=categories[category],
            description=desc, owner_branch=owner, is_active=True,
        )
        new_tags += 1
    return new_categories, new_tags


@transaction.atomic
def _seed_customers(count: int, progress: Callable[[str], None]) -> int:
    """``count`` demo customers with their tags, when there are no customers yet.

    One transaction: an interrupted run leaves no half a bank behind, so running
    it again starts over.
    """
    if count <= 0 or Customer.objects.exists():
        return 0
    rng = random.Random(SEED)  # noqa: S311 (reproducible demo data, not a secret)
    today = timezone.localdate()
    branches = dict(Branch.objects.filter(code__in=BRANCH_WEIGHTS).values_list("code", "pk"))
    codes = [c for c in BRANCH_WEIGHTS if c in branches]
    weights = [BRANCH_WEIGHTS[c] for c in codes]
    tag_ids = dict(Tag.objects.values_list("code", "pk"))
    for start in range(0, count, CHUNK):
        rows = []
        for n in range(start + 1, min(count, start + CHUNK) + 1):
            branch_code = rng.choices(codes, weights=weights)[0]
            customer = _customer(rng, today, branch_code)
            rows.append(
                services.CustomerRow(
                    customer_ref=f"C{n:08d}", name=_name(rng, customer.female), phone=_phone(rng),
                    branch_id=branches[branch_code], opened_on=customer.opened_on,
                    tag_ids=tuple(tag_ids[code] for code in customer.tags),
                )
            )
        services.customers_upsert(rows=rows, source_ref=SOURCE_REF)
        progress(f"  {start + len(rows):,} of {count:,} customers")
    return count


def _segments() -> list[tuple[str, str, str, dict]]:
    """(owner branch, name, description, rule) of the demo segments."""

    def node(type_: str, **fields) -> dict:
        return {"type": type_, **fields}

    high_aum = ["AUM_50W_100W", "AUM_100W_600W", "AUM_600W_3000W", "AUM_GE_3000W"]
    return [
        ("HO", "高净值基金客户 Affluent fund holders",
         "金融资产50万元以上、持有基金、风险等级C3及以上 / AUM of ¥500k or more, holds funds, risk level C3 or above",
         node("group", op="and", children=[
             node("tags", op="any", tags=high_aum),
             node("tag", op="has", tag="HOLD_FUND"),
             node("tags", op="any", tags=["RISK_C3", "RISK_C4", "RISK_C5"]),
         ])),
        ("BJ", "手机银行沉睡的信用卡客户 Credit card holders dormant on mobile banking",
         "北京地区信用卡客户，手机银行90天未登录或只用柜面，未退订营销短信 / Beijing credit card holders who "
         "have not used mobile banking for 90 days or only use the counter, and accept marketing SMS",
         node("group", op="and", children=[
             node("tag", op="has", tag="HOLD_CREDIT_CARD"),
             node("tags", op="any", tags=["MOBILE_BANK_DORMANT", "COUNTER_ONLY"]),
             node("group", op="not", children=[node("tag", op="has", tag="SMS_MARKETING_OPT_OUT")]),
         ])),
        ("SH", "临近退休的定期到期客户 Pre-retirees with maturing deposits",
         "临近退休或已退休、30天内有定期存款或大额存单到期，开户满一年 / Pre-retirees and retirees with a time "
         "deposit or large CD maturing within 30 days, customers for over a year",
         node("group", op="and", children=[
             node("tags", op="any", tags=["LIFE_PRE_RETIREE", "LIFE_RETIREE"]),
             node("group", op="or", children=[
                 node("tag", op="has", tag="TD_MATURING_30D"),
                 node("tag", op="has", tag="CD_MATURING_30D"),
             ]),
             node("group", op="not", children=[node("opened_within", days=365)]),
         ])),
    ]


def _seed_segments() -> int:
    created = 0
    for owner_code, name, description, rule in _segments():
        admin = _branch_admin(owner_code)
        if Segment.objects.filter(owner_branch=admin.branch, name=name).exists():
            continue
        services.segment_create(
            actor=admin, name=name, owner_branch=admin.branch, description=description, rule=rule
        )
        created += 1
    return created


def seed(*, stdout, options) -> None:
    started = time.perf_counter()
    categories, tags = _seed_taxonomy()
    customers = _seed_customers(options.get("customers", DEFAULT_CUSTOMERS), stdout.write)
    segments = _seed_segments()
    stdout.write(
        f"audiences demo: {categories} categories, {tags} tags, {customers:,} customers, "
        f"{segments} segments created in {time.perf_counter() - started:.1f}s"
    )
