"""Turning an export's figures into the files the bureau circulates, with one browser.

`build` takes the export model (`model.gather`) and makes the chart images (PNG/SVG/PDF), the
Excel 通报表, the Word 通报稿 and the 张榜 boards. Images and boards need Chromium; when it is
missing the other files are still made and the bundle says why the rest could not be
(`Bundle.failures`). The renderers (workbook, bulletin, boards) import only the model, never this
module, so the model knows nothing of the files made from it.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..labels import EXPORT_FORMAT_LABELS
from . import boards, bulletin, workbook
from .model import PNG_SCALE, ExportData, ExportError, ExportFile, charts_of
from .render import Renderer, RenderError

FORMATS = ("png", "svg", "pdf", "xlsx", "docx", "board")
IMAGE_FORMATS = ("png", "svg", "pdf")
BROWSER_FORMATS = IMAGE_FORMATS + ("board",)


@dataclass
class Bundle:
    stem: str
    files: list[ExportFile] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)   # format -> why it was not made
    notes: list[str] = field(default_factory=list)           # things a user should know
    browsers: int = 0                                        # Chromium launches of this build

    def of(self, kind: str) -> list[ExportFile]:
        return [f for f in self.files if f.kind == kind]

    def zip_bytes(self, now: dt.datetime | None = None) -> bytes:
        """Every file in one ZIP, under a folder named like the stem. Names are UTF-8 (flagged
        as such in the ZIP, which current Windows, macOS, 7-Zip and WinRAR read)."""
        stamp = (now or dt.datetime.now()).timetuple()[:6]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in self.files:
                info = zipfile.ZipInfo(f"{self.stem}/{item.name}", stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, item.data)
        return buffer.getvalue()

    @property
    def zip_name(self) -> str:
        return f"{self.stem}.zip"

    def write(self, folder: Path) -> list[Path]:
        """Write every file under the folder; returns the paths written."""
        written = []
        for item in self.files:
            path = folder / item.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item.data)
            written.append(path)
        return written


def parse_formats(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """A comma-separated list (or iterable) of formats, checked; all formats when empty."""
    if not text:
        return FORMATS
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    unknown = [t for t in items if t not in FORMATS]
    if unknown:
        raise ExportError(f"不认识的导出格式：{'、'.join(unknown)}；可选：{','.join(FORMATS)}")
    return tuple(t for t in FORMATS if t in items)


def build(data: ExportData, formats: Iterable[str] = FORMATS,
          renderer: Renderer | None = None,
          progress: Callable[[float, str], None] | None = None) -> Bundle:
    """Every requested file of the export, made with one browser for all images and boards.

    A format that cannot be made (no Chromium, a render failure) is recorded in
    `Bundle.failures` with a Chinese reason; the others are still made. Pass a running
    `renderer` to reuse it, otherwise one is started (and closed) when a format needs it.
    `progress(fraction, what)` is told how far the build is.
    """
    formats = parse_formats(list(formats))
    bundle = Bundle(data.stem)
    say = progress or (lambda fraction, what: None)
    wants_browser = any(f in formats for f in BROWSER_FORMATS) or "docx" in formats
    own = None
    if renderer is None and wants_browser:
        say(0.0, "正在启动 Chromium")
        try:
            own = renderer = Renderer()
            renderer.open()
            bundle.browsers = 1
        except RenderError as exc:
            renderer = None
            for fmt in formats:
                if fmt in BROWSER_FORMATS:
                    bundle.failures[fmt] = str(exc)
            if "docx" in formats:
                bundle.notes.append("Word 通报稿中用表格代替了排名图（无法生成图片）")
    try:
        ranking_png = _images(data, formats, renderer, bundle, say) if renderer else None
        if "xlsx" in formats:
            say(0.45, "正在生成 Excel 通报表")
            bundle.files.append(ExportFile(f"{data.stem}-通报表.xlsx", workbook.build(data),
                                           "xlsx", EXPORT_FORMAT_LABELS["xlsx"]))
        if "docx" in formats:
            say(0.5, "正在生成 Word 通报稿")
            bundle.files.append(ExportFile(f"{data.stem}-通报稿.docx",
                                           bulletin.build(data, ranking_png), "docx",
                                           EXPORT_FORMAT_LABELS["docx"]))
        if "board" in formats and renderer is not None:
            try:
                bundle.files.extend(boards.build(
                    data, renderer, lambda done, total: say(0.55 + 0.45 * done / total,
                                                            f"正在生成张榜公示（{done}/{total}）")))
            except RenderError as exc:
                bundle.failures["board"] = str(exc)
        say(1.0, "完成")
    finally:
        if own is not None:
            own.close()
    return bundle


def _images(data: ExportData, formats: tuple[str, ...], renderer: Renderer, bundle: Bundle,
            say) -> bytes | None:
    """The charts in the requested image formats; returns the ranking PNG for the Word draft."""
    ranking_png = None
    made = charts_of(data)
    if not any(c.key == "ranking" for c in made) and any(f in formats for f in IMAGE_FORMATS):
        bundle.notes.append("下级单位尚未录入任务数，无法按完成率排名：未生成排名图")
    jobs = []
    for chart in made:
        for fmt in IMAGE_FORMATS:
            for_word = chart.key == "ranking" and fmt == "png" and "docx" in formats
            if fmt in formats or for_word:
                jobs.append((chart, fmt, fmt in formats, for_word))
    for i, (chart, fmt, wanted, for_word) in enumerate(jobs):
        say(0.05 + 0.4 * i / len(jobs), f"正在生成{chart.label}（{fmt.upper()}）")
        try:
            image = renderer.image(chart.figure, fmt, width=chart.width, height=chart.height,
                                   scale=PNG_SCALE if fmt == "png" else 1)
        except RenderError as exc:
            bundle.failures.setdefault(fmt, str(exc))
            continue
        if for_word:
            ranking_png = image
        if wanted:
            bundle.files.append(ExportFile(f"{data.stem}-{chart.label.removesuffix('图')}.{fmt}",
                                           image, fmt, f"{chart.label}（{fmt.upper()}）"))
    return ranking_png


def failure_message(bundle: Bundle) -> str | None:
    """One Chinese paragraph on what could not be made and why, or None."""
    if not bundle.failures:
        return None
    by_reason: dict[str, list[str]] = {}
    for fmt, reason in bundle.failures.items():
        by_reason.setdefault(reason, []).append(EXPORT_FORMAT_LABELS[fmt])
    parts = [f"未能生成 {'、'.join(kinds)}：{reason}" for reason, kinds in by_reason.items()]
    return "\n".join(parts)
