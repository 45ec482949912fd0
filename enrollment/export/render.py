"""One headless Chromium for a batch of exports: chart images (plotly + kaleido) and HTML pages
printed to PDF (the 张榜 boards).

Why one browser: starting Chromium costs seconds (about 2.7 s on our two-core machines), an image
from a running one about 0.2 s. Plain `fig.write_image` starts a browser per call, so a batch
runs inside one `Renderer`: it opens kaleido's browser (a choreographer Browser) once on a private
asyncio loop in a worker thread, renders every figure in kaleido's tab and prints every HTML page
in a second tab of the same browser, then closes it. The worker thread gives the synchronous
callers (the CLI, Streamlit's script thread, which has no running event loop) a blocking API, as
kaleido's own sync server does; unlike that process-wide singleton, a Renderer's lifetime is the
batch's, so nothing stays running after an export and two exports don't share state.

Why HTML for the boards instead of a PDF library: the boards are documents (a title, big figures,
a table that must fit one A4 page), which HTML/CSS lays out well, and Chromium embeds the Noto CJK
glyphs it renders. ReportLab, the usual Python PDF library, cannot embed Noto CJK (its TTF support
excludes CFF-outline OpenType fonts such as NotoSansCJK-*.ttc) and its built-in CID fonts are not
embedded, so a village office PC without Chinese PDF fonts would print boxes. Printing with the
Chromium we already run for the charts adds no dependency and no second browser.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from .. import settings

INSTALL_HINT = "请让管理员安装：apt-get install chromium fonts-noto-cjk（或用环境变量 ENROLLMENT_CHROMIUM 指定浏览器路径）"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CALL_TIMEOUT = 120.0


class RenderError(RuntimeError):
    """An image or PDF could not be made (message in Chinese)."""


class Overflow(RenderError):
    """A page's content does not fit where it must (see Renderer.pdf's `fit`)."""


class ChromiumMissing(RenderError):
    """No usable Chromium: images and PDFs cannot be made, other exports still can."""


def chromium_path() -> tuple[str | None, str]:
    """The browser to use and where that choice came from (for messages).

    ENROLLMENT_CHROMIUM, then kaleido's BROWSER_PATH, then the usual names on PATH.
    """
    configured = settings.get("ENROLLMENT_CHROMIUM")
    if configured:
        return configured, f"ENROLLMENT_CHROMIUM={configured}"
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"], f"BROWSER_PATH={os.environ['BROWSER_PATH']}"
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found, found
    return None, "PATH"


def chromium_problem() -> str | None:
    """Why images cannot be made here (Chinese), or None when a browser is available."""
    path, origin = chromium_path()
    if path is None:
        return f"未找到 Chromium 浏览器，无法生成图片和 PDF。{INSTALL_HINT}"
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        return f"找不到可用的 Chromium 浏览器（{origin} 不存在或不可执行），无法生成图片和 PDF。{INSTALL_HINT}"
    return None


class Renderer:
    """A running Chromium for one batch; use as a context manager.

        with Renderer() as r:
            png = r.image(fig, "png", width=760, height=600, scale=2)
            pdf = r.pdf(html)

    Raises ChromiumMissing when no browser is available, RenderError when it fails.
    """

    launches = 0   # browsers started by this process (the batch benchmark and tests read it)

    def __init__(self) -> None:
        problem = chromium_problem()
        if problem:
            raise ChromiumMissing(problem)
        self.path = chromium_path()[0]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self._page_tab = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.images = 0
        self.pages = 0

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "Renderer":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="renderer", daemon=True)
        self._thread.start()
        self._tmp = tempfile.TemporaryDirectory(prefix="enrollment-render-")
        try:
            self._kaleido = self._call(self._open())
        except Exception as exc:
            self.close()
            raise RenderError(f"Chromium 启动失败（{self.path}）：{exc}。{INSTALL_HINT}") from exc
        Renderer.launches += 1

    async def _open(self):
        import kaleido  # imported late: importing it is not free and not every run needs it

        # mathjax=False: our figures have no LaTeX, and the default loads MathJax from a CDN,
        # which an offline bureau network cannot reach. plotly.js comes from the plotly package.
        browser = kaleido.Kaleido(n=1, mathjax=False, path=self.path, timeout=60)
        await browser.open()
        return browser

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            if self._kaleido is not None:
                self._call(self._kaleido.close(), timeout=30)
        except Exception:   # noqa: BLE001 - closing a broken browser must not hide the real error
            pass
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            if not self._thread.is_alive():    # a loop stuck in a hung call is left to die
                self._loop.close()
            self._loop = None
            self._kaleido = self._page_tab = None
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def _call(self, coro: Coroutine, timeout: float = CALL_TIMEOUT) -> Any:
        if self._loop is None:
            raise RenderError("浏览器尚未启动")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- work -----------------------------------------------------------------------------
    def image(self, fig: go.Figure, fmt: str, *, width: int, height: int,
              scale: float = 1) -> bytes:
        """The figure as png, svg or pdf bytes (pdf: one page of the figure's size)."""
        opts = {"format": fmt, "width": width, "height": height, "scale": scale}
        try:
            data = self._call(self._kaleido.calc_fig(fig, opts=opts))
        except Exception as exc:
            raise RenderError(f"生成 {fmt.upper()} 图片失败：{exc}") from exc
        self.images += 1
        return data

    def pdf(self, html: str, fit: str | None = None) -> bytes:
        """An HTML document printed to PDF with its CSS page size (@page).

        `fit`: a CSS selector of blocks that must not overflow (a board that must stay on one
        page); Overflow when one does.
        """
        try:
            data = self._call(self._print(html, fit))
        except RenderError:
            raise
        except Exception as exc:
            raise RenderError(f"生成 PDF 失败：{exc}") from exc
        self.pages += 1
        return data

    async def _print(self, html: str, fit: str | None) -> bytes:
        if self._page_tab is None:
            self._page_tab = await self._kaleido.create_tab(url="")
            await self._page_tab.send_command("Page.enable")
        tab = self._page_tab
        # A file (not a data: URL) so that large pages load in one go.
        page = Path(self._tmp.name) / f"page-{self.pages}.html"
        page.write_text(html, encoding="utf-8")
        loaded = tab.subscribe_once("Page.loadEventFired")
        while loaded.done():   # an event of the previous page: take the next one
            loaded = tab.subscribe_once("Page.loadEventFired")
        _check(await tab.send_command("Page.navigate", params={"url": page.as_uri()}))
        await loaded
        # Web fonts are system fonts here, but wait for them as a browser would before printing.
        _check(await tab.send_command("Runtime.evaluate", params={
            "expression": "document.fonts.ready.then(() => true)", "awaitPromise": True}))
        if fit:
            # Print media: the layout that will be printed (A4), not the tab's screen size.
            _check(await tab.send_command("Emulation.setEmulatedMedia", params={"media": "print"}))
            check = _check(await tab.send_command("Runtime.evaluate", params={
                "expression": f"Array.from(document.querySelectorAll({json.dumps(fit)}))"
                              ".filter(e => e.scrollHeight > e.clientHeight + 1).length",
                "returnByValue": True}))
            overflowing = check["result"]["result"].get("value")
            if overflowing:
                raise Overflow(f"有 {overflowing} 页内容超出一页 A4，未生成 PDF")
        result = _check(await tab.send_command("Page.printToPDF", params={
            "printBackground": True, "preferCSSPageSize": True,
            "marginTop": 0, "marginBottom": 0, "marginLeft": 0, "marginRight": 0}))
        page.unlink(missing_ok=True)
        return base64.b64decode(result["result"]["data"])


def _check(response: dict) -> dict:
    if "error" in response:
        raise RenderError(str(response["error"]))
    return response
