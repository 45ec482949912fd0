"""Pushing a published bulletin to a group robot, against a local HTTP server that checks the
payloads: WeChat Work's markdown and image (base64 + md5 of the bytes), DingTalk's markdown at
the signed address (timestamp + HmacSHA256 sign); retries, timeouts and error answers are
reported in Chinese and never undo or block the publication."""

import base64
import datetime as dt
import hashlib
import hmac
import urllib.parse

import pytest
from click.testing import CliRunner

from enrollment.cli import cli
from enrollment.cycle import publishing, push
from enrollment.identity import audit
from enrollment.uploads import rights

from .fixtures import dump, record
from .robots import FakeRenderer, robot

CAMPAIGN = "jincheng-2022-residents"
W12 = dt.date(2021, 11, 19)
SECRET = "SEC0123456789abcdef"


@pytest.fixture
def reported(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_PUSH_RETRY_SECONDS", "0")
    monkeypatch.setenv("ENROLLMENT_PUSH_RETRIES", "2")
    monkeypatch.setenv("ENROLLMENT_APP_URL", "http://10.1.2.3:8501/")
    record(store, CAMPAIGN, dt.date(2021, 11, 12), {"140502": 140000, "140525": 290000})
    record(store, CAMPAIGN, W12, {"140502": 150000, "140525": 300000})
    return store


def publish(store, **kwargs):
    return publishing.publish(store, CAMPAIGN, W12, actor="文书甲", formats=["png", "xlsx"],
                              renderer=FakeRenderer(), **kwargs)


def ranking_png(done):
    return next(f.data for f in done.files if f.kind == "png" and "排名" in f.name)


def test_wecom_gets_the_markdown_summary_and_the_ranking_image_as_documented(reported, monkeypatch):
    with robot() as wecom:
        monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", wecom.url)
        done = publish(reported)
    assert [r.ok for r in done.pushes] == [True]
    assert done.pushes[0].message == "已推送到企业微信群：文字摘要和排名图"
    first, second = wecom.requests
    assert first["path"] == "/cgi-bin/webhook/send" and first["query"] == {"key": ["test-key"]}
    assert first["content_type"].startswith("application/json")
    assert first["json"]["msgtype"] == "markdown" and set(first["json"]) == {"msgtype", "markdown"}
    content = first["json"]["markdown"]["content"]
    assert content.startswith("### 晋城市参保进度通报（第12周，截至2021年11月19日）")
    assert "完成率" in content and "- 未上报：" in content
    assert "[查看进度总览](http://10.1.2.3:8501/overview?campaign=jincheng-2022-residents&as_of=2021-11-19)" in content
    assert len(content.encode("utf-8")) <= 4096
    assert second["json"]["msgtype"] == "image" and set(second["json"]["image"]) == {"base64", "md5"}
    image = base64.b64decode(second["json"]["image"]["base64"])
    assert image == ranking_png(done) and image.startswith(b"\x89PNG")
    assert second["json"]["image"]["md5"] == hashlib.md5(image).hexdigest()
    with reported.read() as tx:
        table = publishing.archive_table(publishing.archive(tx, publishing.campaigns.get(tx, CAMPAIGN)))
        assert tx.value("SELECT count(*) FROM bulletin_pushes WHERE ok") == 1
    assert list(table["推送"]) == ["企业微信成功"]


def test_dingtalk_gets_the_markdown_at_the_signed_address(reported, monkeypatch):
    with robot("/robot/send?access_token=tok") as dingtalk:
        monkeypatch.setenv("ENROLLMENT_DINGTALK_WEBHOOK", dingtalk.url)
        monkeypatch.setenv("ENROLLMENT_DINGTALK_SECRET", SECRET)
        done = publish(reported)
    assert [r.ok for r in done.pushes] == [True]
    assert "钉钉机器人只能显示网址中的图片" in done.pushes[0].message
    (request,) = dingtalk.requests
    query = request["query"]
    assert query["access_token"] == ["tok"]
    timestamp = query["timestamp"][0]
    assert abs(int(timestamp) / 1000 - dt.datetime.now().timestamp()) < 3600
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]          # parse_qs undoes the URL encoding
    body = request["json"]
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "晋城市参保进度通报（第12周，截至2021年11月19日）"
    assert body["markdown"]["text"].startswith("### 晋城市参保进度通报")


def test_the_signature_matches_dingtalks_documented_example():
    # The documented recipe: urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret))).
    url = push.signed_url("https://oapi.dingtalk.com/robot/send?access_token=x", "this is secret",
                          1577262236757)
    sign = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["sign"][0]
    digest = hmac.new(b"this is secret", b"1577262236757\nthis is secret", hashlib.sha256).digest()
    assert sign == base64.b64encode(digest).decode()
    assert "timestamp=1577262236757&sign=" in url and "%" in url.split("sign=")[1]


def test_a_robot_that_does_not_answer_is_retried_reported_and_publishing_stands(reported, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_PUSH_TIMEOUT", "0.5")
    with robot(script=[("hang", 2), ("hang", 2), ("hang", 2)]) as wecom:
        monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", wecom.url)
        done = publish(reported)
    (result,) = done.pushes
    assert not result.ok and result.attempts == 3
    assert result.message == "企业微信推送失败：等待 0.5 秒无应答（超时）；已尝试 3 次"
    assert "test-key" not in result.message
    with reported.read() as tx:
        assert publishing.bulletin(tx, CAMPAIGN, done.id) is not None
        assert rights.week_lock(tx, publishing.campaigns.get(tx, CAMPAIGN), W12) is not None
        entries = audit.query(tx, campaign_id=CAMPAIGN, actions=["push_failed"])
        assert "超时" in entries.iloc[0]["detail"]
        assert tx.value("SELECT count(*) FROM bulletin_pushes WHERE NOT ok") == 1


def test_an_error_answer_is_final_and_reported_with_its_code(reported, monkeypatch):
    with robot(script=[("errcode", 93000, "invalid webhook url")]) as wecom:
        monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", wecom.url)
        done = publish(reported)
    (result,) = done.pushes
    assert not result.ok and result.attempts == 1 and len(wecom.requests) == 1
    assert result.message == "企业微信推送失败：机器人返回错误 93000（invalid webhook url）"


@pytest.mark.parametrize("first", [("errcode", 45009, "api freq out of limit"), ("http", 502)])
def test_a_busy_robot_or_a_server_error_is_tried_again(reported, monkeypatch, first):
    waits = []
    monkeypatch.setenv("ENROLLMENT_PUSH_RETRY_SECONDS", "1.5")
    with robot(script=[first]) as wecom:
        monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", wecom.url)
        done = publish(reported, sleep=waits.append)
    assert [r.ok for r in done.pushes] == [True]
    assert done.pushes[0].attempts == 3 and len(wecom.requests) == 3   # markdown twice, image
    assert waits == [1.5]


def test_an_image_failure_after_the_summary_says_what_arrived(reported, monkeypatch):
    with robot(script=[("ok",), ("errcode", 40009, "invalid image size")]) as wecom:
        monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", wecom.url)
        done = publish(reported)
    assert done.pushes[0].message == ("企业微信推送失败（文字摘要已发送，图片未发送）："
                                      "机器人返回错误 40009（invalid image size）")


def test_an_image_over_two_megabytes_is_left_out():
    big = b"\x89PNG" + b"0" * (2 * 1024 * 1024)
    assert [p["msgtype"] for p in push.wecom_payloads("### t", big)] == ["markdown"]
    assert [p["msgtype"] for p in push.wecom_payloads("### t", big[:1000])] == ["markdown", "image"]


def test_a_webhook_that_is_not_an_address_fails_without_trying(reported, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", "qyapi.weixin.qq.com/send?key=x")
    done = publish(reported)
    assert done.pushes[0].message == "企业微信推送失败：机器人地址应以 http:// 或 https:// 开头，请检查设置"


def test_the_cli_reports_a_failed_push_with_exit_3_and_pushes_again(reported, monkeypatch):
    runner = CliRunner()
    args = ["--db", reported.target]
    with robot(script=[("errcode", 93000, "invalid webhook url")]) as wecom:
        monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", wecom.url)
        done = runner.invoke(cli, args + ["publish", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
                                          "--formats", "xlsx"])
        assert done.exit_code == 3, done.output
        assert "已发布第12周" in done.output and "机器人返回错误 93000" in done.output
        assert "bulletins push 1 --campaign jincheng-2022-residents" in done.output
        before = dump(reported)
        again = runner.invoke(cli, args + ["bulletins", "push", "1", "--campaign", CAMPAIGN])
        assert again.exit_code == 0, again.output
        assert "已推送到企业微信群：文字摘要" in again.output
    assert wecom.requests[-1]["json"]["markdown"]["content"] == wecom.requests[0]["json"]["markdown"]["content"]
    after = dump(reported)
    assert len(after["bulletin_pushes"]) == len(before["bulletin_pushes"]) + 1
    monkeypatch.delenv("ENROLLMENT_WECOM_WEBHOOK")
    none = runner.invoke(cli, args + ["bulletins", "push", "1", "--campaign", CAMPAIGN])
    assert none.exit_code == 1 and "没有设置群机器人" in none.output


def test_no_robot_configured_means_no_push(reported, monkeypatch):
    monkeypatch.delenv("ENROLLMENT_WECOM_WEBHOOK", raising=False)
    monkeypatch.delenv("ENROLLMENT_DINGTALK_WEBHOOK", raising=False)
    assert publish(reported).pushes == []
