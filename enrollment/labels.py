"""Every Chinese word the user sees for a domain concept, in one place."""

from __future__ import annotations

APP_TITLE = "参保进度看板"
DEMO_BADGE = "示例数据"
DEMO_BANNER = "示例数据：本页显示的是模拟的每周上报数据，仅用于演示，不是真实上报。"
SOURCE_LABELS = {"upload": "各单位上报", "demo": DEMO_BADGE}

# Status keys as defined in the brief, plus `no_target` for a unit without a task: its completion
# cannot be judged, and the app says so instead of guessing.
STATUS_LABELS = {
    "achieved": "已达标",
    "on_track": "进度正常",
    "behind": "进度落后",
    "not_reported": "未上报",
    "no_target": "目标未录入",
}
STATUS_ORDER = ("behind", "not_reported", "on_track", "achieved", "no_target")

LEVEL_LABELS = {
    "nation": "全国",
    "province": "省",
    "city": "市",
    "county": "县（市、区）",
    "township": "乡镇（街道）",
    "community": "村（社区）",
}
# Levels in hierarchy order with the length of their statistical division codes.
LEVEL_CODE_LENGTHS = {"province": 2, "city": 4, "county": 6, "township": 9, "community": 12}

PROGRAMME_LABELS = {"residents": "城乡居民基本医疗保险", "employees": "职工基本医疗保险"}

COLUMN_LABELS = {
    "code": "单位代码",
    "name": "单位",
    "level": "层级",
    "parent_code": "上级代码",
    "target": "任务数",
    "baseline": "上年参保人数",
    "enrolled": "累计参保人数",
    "completion": "完成率",
    "time_progress": "序时进度",
    "pace": "序时目标",
    "gap_pp": "与序时目标差距（百分点）",
    "status": "状态",
    "week_delta": "较上周增加",
    "needed_per_week": "每周还需参保",
    "report_date": "最近上报日期",
    "low_income_target": "低收入人口任务数",
    "low_income_enrolled": "低收入人口参保人数",
    "low_income_completion": "低收入人口参保率",
    "amount": "征缴金额（元）",
    "expected_amount": "应缴金额（元）",
    "amount_share": "征缴金额占应缴比例",
}

TARGETS_MISSING = "目标任务未录入"

# Time zones as people here name them (ENROLLMENT_TIMEZONE); others keep their IANA name.
ZONE_LABELS = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间", "Asia/Urumqi": "乌鲁木齐时间",
               "Asia/Hong_Kong": "香港时间", "Asia/Macau": "澳门时间", "Asia/Taipei": "台北时间"}


def zone_label(zone: str) -> str:
    """北京时间 for Asia/Shanghai: the words on a deadline, never an abbreviation like CST."""
    return ZONE_LABELS.get(str(zone), str(zone))

# Target tables (目标任务): versions, where they came from, their columns.
TARGET_SET_STATUS = {"current": "当前使用", "partly": "部分使用", "replaced": "已被替换"}
TARGET_SOURCE_LABELS = {"shipped": "系统内置", "upload": "文件载入", "allocation": "测算分解",
                        "restore": "恢复旧版本"}
TARGET_COLUMN_LABELS = {
    "set_id": "版本",
    "status": "状态",
    "level": "层级",
    "scope_code": "范围代码",
    "scope_name": "范围",
    "units": "单位数",
    "total_task": "任务数合计",
    "source": "来源",
    "file_name": "文件",
    "created_by": "录入人",
    "created_at": "录入时间",
    "note": "说明",
    "task": "任务数",
    "baseline": "上年参保人数",
    "growth": "增长率",
    "registered_population": "户籍人口数",
    "resident_population": "常住人口数",
    "low_income": "低收入人口数",
}
# The upload log (数据上报).
UPLOAD_KIND_LABELS = {"report": "上报", "withdrawal": "撤回", "targets": "任务表"}
UPLOAD_STATUS_LABELS = {"accepted": "已接收", "rejected": "未通过（未保存）", "withdrawn": "已撤回"}

# Accounts and the audit log (账号与权限).
ROLE_LABELS = {"admin": "管理员", "leader": "领导", "reporter": "填报员"}
OPEN_MODE_BANNER = "未启用账号，所有人可修改数据"
AUDIT_ACTION_LABELS = {
    "login": "登录成功",
    "login_failed": "登录失败",
    "logout": "退出登录",
    "account_locked": "账号锁定",
    "password_changed": "修改密码",
    "password_reset": "重置密码",
    "user_created": "创建账号",
    "user_updated": "修改账号",
    "user_disabled": "停用账号",
    "user_enabled": "启用账号",
    "user_unlocked": "解除锁定",
    "upload": "数据上报",
    "upload_rejected": "上报未通过",
    "withdrawal": "撤回上报",
    "targets_changed": "修改目标任务",
    "campaign_changed": "修改参保活动",
    "export": "导出",
    "publish": "发布通报",
    "week_locked": "锁定周数据",
    "week_unlocked": "解除周锁定",
    "week_exception": "开放例外",
    "week_exception_revoked": "撤销例外",
    "push": "推送通报",
    "push_failed": "推送失败",
    "contacts_changed": "修改联系人",
}
AUDIT_COLUMNS = {"id": "编号", "logged_at": "时间", "actor": "操作人", "role": "角色", "action": "操作",
                 "detail": "内容", "address": "来源地址", "campaign_id": "参保活动"}
# Exports (通报导出).
LEVEL_SHORT = {"city": "市", "county": "县区", "township": "乡镇", "community": "村社区"}
# Who the bulletin is addressed to, by the level of the units it ranks.
BULLETIN_RECIPIENTS = {
    "county": "各县（市、区）医疗保障局：",
    "township": "各乡镇（街道）：",
    "community": "各村（社区）：",
}
EXPORT_FORMAT_LABELS = {
    "png": "PNG 图片", "svg": "SVG 图片", "pdf": "PDF 图表", "xlsx": "Excel 通报表",
    "docx": "Word 通报稿", "board": "张榜公示 PDF",
}
# Who reports, by level, for the source line under exported charts (数据来源：各县区每周上报).
REPORTER_LABELS = {"city": "市", "county": "县区", "township": "乡镇（街道）", "community": "村（社区）"}
SOURCE_NOTE = {"upload": "数据来源：各{level}每周上报",
               "demo": "数据来源：示例数据（模拟），不是真实上报"}
# The Friday cycle (催报, publishing, locked weeks, the bulletin archive).
PERIOD_LABELS = {"week": "周报", "month": "月度"}
PUSH_CHANNEL_LABELS = {"wecom": "企业微信", "dingtalk": "钉钉"}
CONTACT_COLUMNS = {"code": "单位代码", "name": "单位", "level": "层级", "person": "责任人",
                   "phone": "联系电话"}
