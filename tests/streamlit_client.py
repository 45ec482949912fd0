"""A real Streamlit client without a browser, for load tests.

One `Session` is what a browser tab is to the server: a websocket on /_stcore/stream speaking
Streamlit's own protocol (the BackMsg / ForwardMsg protobufs its web frontend sends and
receives), so the server starts a real session, runs the real scripts in its own threads with
widget state from the client, and takes file uploads through its real HTTP upload endpoint (with
the XSRF cookie and header a browser sends). What it leaves out is the browser's drawing of the
page, which costs the server nothing; that is why a load test can run thirty of these on two
cores, where thirty Chromium tabs would mostly measure Chromium.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import urllib.parse

import requests
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
_requests = itertools.count(1)


class ScriptError(AssertionError):
    """The page showed an exception or did not finish."""


class Session:
    """One browser tab: `await Session.open(url, query, page)`, then type/click/upload."""

    def __init__(self, base_url: str, query: str = "", page: str = "", timeout: float = 120):
        self.base_url = base_url.rstrip("/")
        self.query = query
        self.page = page
        self.page_hash = ""
        self.timeout = timeout
        self.session_id: str | None = None
        self.elements: list = []            # (kind, proto) of the last complete script run
        self.states: dict[str, WidgetState] = {}
        self.runs: list[float] = []         # seconds from request to the end of each run
        self._ws = None
        self._http = requests.Session()

    @classmethod
    async def open(cls, base_url: str, query: str = "", page: str = "", timeout: float = 120):
        session = cls(base_url, query, page, timeout)
        ws_url = session.base_url.replace("http", "ws", 1) + "/_stcore/stream"
        # As a browser does, one request first: its cookies (the XSRF token, and behind
        # scripts/serve-cluster.sh's nginx the sticky route) go with the websocket.
        await asyncio.to_thread(session._http.get, session.base_url + "/_stcore/health",
                                timeout=timeout)
        cookies = "; ".join(f"{k}={v}" for k, v in session._http.cookies.items())
        session._ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                               open_timeout=timeout,
                                               additional_headers={"Cookie": cookies} if cookies else None)
        await session.run()
        return session

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        self._http.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    # --- running the script -----------------------------------------------------------------

    async def _send(self, msg: BackMsg) -> None:
        await self._ws.send(msg.SerializeToString())

    async def _receive(self) -> ForwardMsg:
        data = await asyncio.wait_for(self._ws.recv(), self.timeout)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        return msg

    async def run(self, triggers: list[WidgetState] = ()) -> float:
        """Rerun the page with the current widget values (and one-shot triggers, e.g. a click);
        returns when the script has finished (also after st.rerun), raising ScriptError when
        the page shows an exception."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = self.page
        state.page_script_hash = self.page_hash
        state.widget_states.widgets.extend(list(self.states.values()) + list(triggers))
        started = time.perf_counter()
        await self._send(msg)
        elements: list = []
        while True:
            fm = await self._receive()
            kind = fm.WhichOneof("type")
            if kind == "new_session":             # sent when each script run starts
                elements = []
                self.session_id = fm.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":
                # The page st.navigation chose, as the browser keeps it for its next rerun.
                # Not new_session's hash: for a run asked for by page name alone, that is
                # the entry file's hash, which no page has, so sending it back would land
                # on the default page.
                self.page_hash = fm.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                element = fm.delta.new_element
                elements.append((element.WhichOneof("type"), element))
            elif kind == "script_finished":
                if fm.script_finished == FINISHED:
                    break
                if fm.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ScriptError("the script did not compile")
        seconds = time.perf_counter() - started
        self.runs.append(seconds)
        self.elements = elements
        if self.exceptions:
            raise ScriptError(f"{self.page or 'page'}: {self.exceptions[0]}")
        return seconds

    # --- what the page shows -------------------------------------------------------------------

    @property
    def exceptions(self) -> list[str]:
        return [f"{e.exception.type}: {e.exception.message}"
                for kind, e in self.elements if kind == "exception"]

    @property
    def text(self) -> str:
        """The page's headings, text, markdown, alerts and metrics, one per line."""
        out = []
        for kind, e in self.elements:
            if kind in ("heading", "markdown", "text", "alert"):
                out.append(getattr(e, kind).body)
            elif kind == "metric":
                out.append(f"{e.metric.label} {e.metric.body}")
        return "\n".join(out)

    def widget(self, kind: str, label: str):
        """The widget proto of that kind whose label starts with `label`."""
        for k, e in self.elements:
            if k == kind and getattr(e, kind).label.startswith(label):
                return getattr(e, kind)
        raise ScriptError(f"no {kind} labelled {label!r} on the page; it shows:\n{self.text}")

    # --- acting on widgets ---------------------------------------------------------------------

    async def type(self, label: str, text: str) -> float:
        widget = self.widget("text_input", label)
        self.states[widget.id] = WidgetState(id=widget.id, string_value=text)
        return await self.run()

    async def check(self, label: str, value: bool = True) -> float:
        widget = self.widget("checkbox", label)
        self.states[widget.id] = WidgetState(id=widget.id, bool_value=value)
        return await self.run()

    async def click(self, label: str) -> float:
        widget = self.widget("button", label)
        if widget.disabled:
            raise ScriptError(f"the button {label!r} is disabled")
        return await self.run([WidgetState(id=widget.id, trigger_value=True)])

    async def upload(self, label: str, name: str, content: bytes) -> float:
        """Choose a file in a file_uploader: ask for an upload URL, PUT the bytes to it over
        HTTP (as the browser does), then rerun with the file in the widget's state."""
        widget = self.widget("file_uploader", label)
        request = BackMsg()
        request.file_urls_request.request_id = f"r{next(_requests)}"
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id
        await self._send(request)
        while True:
            fm = await self._receive()
            if fm.WhichOneof("type") == "file_urls_response" and \
                    fm.file_urls_response.response_id == request.file_urls_request.request_id:
                break
        if fm.file_urls_response.error_msg:
            raise ScriptError(fm.file_urls_response.error_msg)
        urls = fm.file_urls_response.file_urls[0]
        await asyncio.to_thread(self._put, urls.upload_url, name, content)
        info = UploadedFileInfo(name=name, size=len(content), file_id=urls.file_id)
        info.file_urls.CopyFrom(urls)
        state = WidgetState(id=widget.id)
        state.file_uploader_state_value.uploaded_file_info.append(info)
        self.states[widget.id] = state
        return await self.run()

    def _put(self, url: str, name: str, content: bytes) -> None:
        if "_streamlit_xsrf" not in self._http.cookies:
            self._http.get(self.base_url + "/_stcore/health", timeout=self.timeout)   # sets it
        token = self._http.cookies.get("_streamlit_xsrf", "")
        response = self._http.put(urllib.parse.urljoin(self.base_url + "/", url),
                                  files={"file": (name, content)},
                                  headers={"X-Xsrftoken": token}, timeout=self.timeout)
        if response.status_code >= 300:
            raise ScriptError(f"upload refused: {response.status_code} {response.text[:200]}")
