"""Pushing a published bulletin to a group robot: WeChat Work (企业微信) and DingTalk (钉钉).

The message formats are the vendors' documented ones:

* WeChat Work group robot (企业微信「群机器人配置说明」): a JSON POST to the webhook address;
  `{"msgtype": "markdown", "markdown": {"content": …}}` (at most 4,096 bytes of UTF-8) and
  `{"msgtype": "image", "image": {"base64": …, "md5": …}}`, the md5 of the image's bytes
  before base64, the image (JPG or PNG) at most 2 MB. It answers `{"errcode": 0, "errmsg": "ok"}`.
* DingTalk custom robot (钉钉「自定义机器人」): `{"msgtype": "markdown", "markdown": {"title": …,
  "text": …}}`. With 加签 the address gets `&timestamp=<ms>&sign=<s>`, s = urlencode(base64(
  HmacSHA256(key=secret, message=f"{timestamp}\\n{secret}"))), the timestamp within an hour of
  DingTalk's clock. DingTalk's markdown shows images only from a URL, so it gets the summary
  alone. It answers `{"errcode": 0, "errmsg": "ok"}`.

A push that gets no answer (ENROLLMENT_PUSH_TIMEOUT), a server error or a busy robot is tried
again ENROLLMENT_PUSH_RETRIES times, waiting ENROLLMENT_PUSH_RETRY_SECONDS and then twice as
long each time; any other error answer is final at once. A failure is reported (a `Result`,
the bulletin's push record, the audit log) and never undoes or blocks a publication. Webhook
addresses hold a secret key: no message, log entry or record ever contains one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from .. import settings
from ..export.model import count, percent
from ..labels import PUSH_CHANNEL_LABELS, STATUS_LABELS
from ..metrics import reporting

WECOM, DINGTALK = "wecom", "dingtalk"
WECOM_MARKDOWN_BYTES = 4096
WECOM_IMAGE_BYTES = 2 * 1024 * 1024
# Answers worth trying again: WeChat Work's "system busy" (-1) and rate limit (45009, at most 20
# messages a minute), DingTalk's rate limit (130101).
RETRY_ERRCODES = {-1, 45009, 130101}
LIST_LIMIT = 10


class PushError(Exception):
    """One attempt failed; `retry` says whether trying again may help (message in Chinese)."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Channel:
    key: str                # wecom or dingtalk
    url: str
    secret: str = ""

    @property
    def label(self) -> str:
        return PUSH_CHANNEL_LABELS[self.key]


@dataclass
class Result:
    channel: str
    ok: bool
    attempts: int
    message: str            # Chinese: what was sent, or why it failed

    @property
    def label(self) -> str:
        return PUSH_CHANNEL_LABELS.get(self.channel, self.channel)

    def __str__(self) -> str:
        return self.message


def channels() -> list[Channel]:
    """The group robots the settings name (none: no push)."""
    found = []
    if settings.wecom_webhook():
        found.append(Channel(WECOM, settings.wecom_webhook()))
    if settings.dingtalk_webhook():
        found.append(Channel(DINGTALK, settings.dingtalk_webhook(), settings.dingtalk_secret()))
    return found


# --- the message ------------------------------------------------------------------------------

def _names(frame: pd.DataFrame, describe=None) -> str:
    rows = frame.to_dict("records")
    parts = [f"{r['name']}（{describe(r)}）" if describe else str(r["name"]) for r in rows[:LIST_LIMIT]]
    return "、".join(parts) + (f"等{len(rows)}个" if len(rows) > LIST_LIMIT else "")


def compose(data, link: str | None = None) -> str:
    """The bulletin's summary in the markdown both robots read: a title line, the scope's
    completion against the 序时目标, status counts, the units behind, those that did not
    report or reported late, and a link to the overview when ENROLLMENT_APP_URL is set."""
    unit = data.scope
    month = getattr(data, "month", None)
    period = (f"{month.label}，截至{data.as_of.month}月{data.as_of.day}日" if month
              else f"第{data.week}周，截至{data.as_of.year}年{data.as_of.month}月{data.as_of.day}日")
    kind = "月度通报" if month else "通报"
    lines = [f"### {unit['name']}参保进度{kind}（{period}）"]
    if pd.isna(unit["target"]) or pd.isna(unit["enrolled"]):
        lines.append(f"累计参保 {count(unit['enrolled'])} 人，任务数 {count(unit['target'])} 人。")
    else:
        gap = float(unit["gap_pp"])
        relation = f"高于 {gap:.2f}" if gap > 0 else f"低于 {-gap:.2f}" if gap < 0 else "等于"
        lines.append(f"累计参保 **{count(unit['enrolled'])}** 人，任务数 {count(unit['target'])} 人，"
                     f"完成率 **{percent(unit['completion'])}**；序时目标 {percent(float(data.result.pace))}，"
                     f"{relation}{' 个百分点' if gap else ''}。")
    if month is not None and month.change is not None:
        lines.append(month.change)
    frame = data.units
    counts = data.result.status_counts(frame)
    lines.append("- " + "，".join(f"{STATUS_LABELS[k]} {v} 个" for k, v in counts.items() if v))
    behind = frame[frame["status"] == "behind"].sort_values("gap_pp", kind="stable")
    if len(behind):
        lines.append("- 进度落后：" + _names(behind, lambda r: percent(r["completion"])))
    status = data.week_status
    if len(status):
        missing = status[status["status"] == reporting.MISSING]
        late = status[status["status"] == reporting.LATE]
        if len(missing):
            lines.append("- 未上报：" + _names(missing))
        if len(late):
            lines.append("- 逾期上报：" + _names(late))
    if link:
        lines.append(f"[查看进度总览]({link})")
    text = "\n".join(lines)
    while len(text.encode("utf-8")) > WECOM_MARKDOWN_BYTES and len(lines) > 2:
        lines.pop(-2 if link else -1)
        text = "\n".join(lines)
    return text


def title_of(summary: str) -> str:
    """The summary's first line without its heading marks (DingTalk's notification title)."""
    return summary.split("\n", 1)[0].lstrip("# ").strip()


def wecom_payloads(summary: str, image: bytes | None) -> list[dict]:
    """The markdown message, then the ranking image as base64 with the md5 of its bytes."""
    content = summary.encode("utf-8")[:WECOM_MARKDOWN_BYTES].decode("utf-8", "ignore")
    out = [{"msgtype": "markdown", "markdown": {"content": content}}]
    if image is not None and len(image) <= WECOM_IMAGE_BYTES:
        out.append({"msgtype": "image", "image": {"base64": base64.b64encode(image).decode("ascii"),
                                                  "md5": hashlib.md5(image).hexdigest()}})
    return out


def dingtalk_payloads(summary: str) -> list[dict]:
    return [{"msgtype": "markdown", "markdown": {"title": title_of(summary), "text": summary}}]


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: the webhook address with timestamp (ms) and sign."""
    message = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


# --- sending ----------------------------------------------------------------------------------

def post(url: str, payload: dict, timeout: float) -> None:
    """POST one message; PushError (Chinese, never naming the address) unless errcode is 0."""
    if not url.lower().startswith(("http://", "https://")):
        raise PushError("机器人地址应以 http:// 或 https:// 开头，请检查设置", retry=False)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        raise PushError(f"机器人服务器返回 HTTP {exc.code}", retry=exc.code >= 500 or exc.code == 429)
    except (TimeoutError, socket.timeout):
        raise PushError(f"等待 {timeout:g} 秒无应答（超时）", retry=True)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise PushError(f"等待 {timeout:g} 秒无应答（超时）", retry=True)
        raise PushError(f"无法连接机器人服务器（{reason}）", retry=True)
    except OSError as exc:
        raise PushError(f"连接中断（{exc}）", retry=True)
    try:
        result = json.loads(answer.decode("utf-8"))
        code = int(result.get("errcode", -999))
    except (ValueError, AttributeError, TypeError):
        raise PushError("机器人服务器的应答无法识别", retry=True)
    if code != 0:
        detail = str(result.get("errmsg", ""))[:200]
        raise PushError(f"机器人返回错误 {code}（{detail}）", retry=code in RETRY_ERRCODES)


def send(channel: Channel, summary: str, image: bytes | None = None, *,
         sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.time) -> Result:
    """Send the summary (and, to WeChat Work, the image) with retries; never raises."""
    retries, delay, timeout = (settings.push_retries(), settings.push_retry_seconds(),
                               settings.push_timeout())
    payloads = (wecom_payloads(summary, image) if channel.key == WECOM
                else dingtalk_payloads(summary))
    attempts = 0
    for number, payload in enumerate(payloads):
        for attempt in range(retries + 1):
            attempts += 1
            url = channel.url
            if channel.key == DINGTALK and channel.secret:
                url = signed_url(url, channel.secret, int(clock() * 1000))
            try:
                post(url, payload, timeout)
                break
            except PushError as exc:
                if not exc.retry or attempt == retries:
                    sent = "（文字摘要已发送，图片未发送）" if number else ""
                    return Result(channel.key, False, attempts,
                                  f"{channel.label}推送失败{sent}：{exc}"
                                  + (f"；已尝试 {attempt + 1} 次" if attempt else ""))
                sleep(delay * 2 ** attempt)
    what = "文字摘要和排名图" if len(payloads) > 1 else "文字摘要"
    note = ""
    if channel.key == WECOM and image is not None and len(payloads) == 1:
        note = f"（排名图 {len(image) / 1048576:.1f} MB，超过企业微信 2 MB 的上限，未发送）"
    elif channel.key == DINGTALK and image is not None:
        note = "（钉钉机器人只能显示网址中的图片，未发送排名图）"
    return Result(channel.key, True, attempts, f"已推送到{channel.label}群：{what}{note}")
