"""The Word 通报稿 is ready to circulate: printed with LibreOffice (headless, as a bureau without
Microsoft Office prints it), every page is looked at — the issuing body signs above the date, no
page holds only the 附件 line and the date, no figure of the table wraps — and lists of units
name all of them or say 等 for the rest. Page images go to $ENROLLMENT_SCREENSHOTS."""

import datetime as dt
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import docx
import pytest

from enrollment.campaigns import demo
from enrollment.export import bulletin
from enrollment.export import model as exports

from .fixtures import record

SOFFICE = shutil.which("soffice")
needs_office = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is missing: scripts/install.sh --dev installs it")
COUNTIES = ("140502", "140521", "140522", "140524", "140525", "140581")


def print_pdf(content: bytes, folder: Path) -> list[str]:
    """The .docx printed to PDF by LibreOffice; the text of each page (layout kept)."""
    source = folder / "通报稿.docx"
    source.write_bytes(content)
    profile = folder / "profile"          # a profile of its own: parallel tests do not collide
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(folder), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = folder / "通报稿.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    shots = os.environ.get("ENROLLMENT_SCREENSHOTS")
    if shots:
        subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf),
                        str(Path(shots) / f"bulletin-{folder.name}")], check=True)
    return [page for page in text.split("\f") if page.strip()]


def lines(page: str) -> list[str]:
    """A page's lines without any spacing (pdftotext spaces out digits and Han characters)."""
    return [re.sub(r"\s+", "", line) for line in page.splitlines() if line.strip()]


def check_pages(pages: list[str], data: exports.ExportData, draft: bulletin.Draft) -> None:
    """What every printed draft must satisfy."""
    signed = [i for i, page in enumerate(pages) if draft.date in lines(page)]
    assert signed, "the date is printed"
    page = lines(pages[signed[0]])
    # Body text on the page of the signature: more than the 附件 line, issuer and date.
    body = [line for line in page if line not in (draft.attachment, draft.issuer, draft.date)]
    assert body, f"page {signed[0] + 1} holds only the attachment line and the signature: {page}"
    if draft.issuer:
        assert page[page.index(draft.issuer) + 1] == draft.date     # the issuer right above
    # The table's figures stay whole: none broken inside its cell (「+13,00」 over 「0」).
    table = "\n".join(pages[signed[0] + 1:])
    for values, _ in bulletin.table_rows(data) + [(bulletin.total_row(data), "total")]:
        for value in values[2:7]:
            assert re.search(rf"(?<![\d,.+-]){re.escape(value)}(?![\d,.%])", table), \
                f"{value} is broken across lines"


@needs_office
def test_the_demo_draft_of_the_last_week_keeps_its_signature_with_the_text(store, jincheng,
                                                                           tmp_path):
    # Before: LibreOffice put 「附件：…」 and the date alone on page 3 of this very draft.
    demo.generate(store, jincheng)
    with store.read() as con:
        data = exports.gather(con, jincheng, dt.date(2021, 12, 24), "demo", "county")
    draft = bulletin.draft(data)
    assert draft.issuer == "晋城市医疗保障局"
    pages = print_pdf(bulletin.build(data), tmp_path)
    assert len(pages) >= 3
    check_pages(pages, data, draft)
    assert pages[-1].lstrip().startswith("附件")          # the attachment starts its own page


@needs_office
def test_a_week_nobody_reported_names_all_six_counties(store, jincheng, tmp_path):
    record(store, jincheng.id, dt.date(2021, 11, 12), {c: 100000 for c in COUNTIES})
    # Every county a day late (Saturday morning), 城区 with 13,000 more people.
    record(store, jincheng.id, dt.date(2021, 11, 19),
           {c: 113000 if c == "140502" else 100500 for c in COUNTIES},
           now=dt.datetime(2021, 11, 20, 1, 0))
    with store.read() as con:
        data = exports.gather(con, jincheng, dt.date(2021, 11, 19), "upload", "county")
    draft = bulletin.draft(data)
    asks = dict(draft.sections)["五、工作要求"]
    ask = next(a for a in asks if "按时报送" in a)
    # 「请城区、沁水县、阳城县、陵川县、泽州县等6个单位」 named five of six: all six now.
    for name in ("城区", "沁水县", "阳城县", "陵川县", "泽州县", "高平市"):
        assert name in ask
    assert "等" not in ask
    pages = print_pdf(bulletin.build(data), tmp_path)
    check_pages(pages, data, draft)
    assert "+13,000" in "".join(pages)                    # a figure that used to wrap


def test_lists_name_every_unit_or_say_how_many_more(demo_data):
    frame = demo_data.result.units[demo_data.result.units["level"] == "township"]
    assert bulletin._names(frame.head(10)).count("、") == 9
    assert "等" not in bulletin._names(frame.head(10))
    eleven = bulletin._names(frame.head(11))
    assert eleven.count("、") == 9 and eleven.endswith("等11个单位")


def test_the_signature_follows_gb_t_9704(demo_data):
    # 7.3.5.2: the issuer two characters from the right margin, the date two characters right
    # of the issuer's start; a date longer than that two from the margin, the issuer moved left.
    issuer, date = bulletin.signature_indents("周家坝街道办事处全体工作人员", "2021年12月24日")
    assert date == pytest.approx(bulletin.text_width("周家坝街道办事处全体工作人员")
                                 - bulletin.text_width("2021年12月24日"))
    assert issuer == 2
    issuer, date = bulletin.signature_indents("晋城市医疗保障局", "2021年12月24日")
    assert date == 2 and issuer + 8 - 2 == pytest.approx(date + bulletin.text_width("2021年12月24日"))
    assert bulletin.signature_indents(None, "2021年12月24日") == (0, 4)
    text = docx.Document(io.BytesIO(bulletin.build(demo_data)))
    paragraphs = [p.text for p in text.paragraphs]
    at = paragraphs.index("晋城市医疗保障局")
    assert paragraphs[at + 1] == "2021年11月19日"
    assert paragraphs[at - 2].startswith("附件：")
    assert "晋城市医疗保障局" in bulletin.draft(demo_data).markdown()
