"""Who may do what: roles, permissions, and the app's page list per role (one table).

The entry file builds `st.navigation` from `PAGES` filtered by the viewer, so a role sees only
its pages; pages check `Viewer.can(...)` again before they change anything. To add a page, add a
row to PAGES with the roles that see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from ..labels import ROLE_LABELS
from .accounts import ADMIN, LEADER, REPORTER, ROLES, User

# Permissions per role. 填报员 read everything and change figures only inside their units.
# Publishing a bulletin locks its week; only administrators unlock weeks, grant exceptions and
# edit the contacts of 催报.
PERMISSIONS: dict[str, frozenset[str]] = {
    ADMIN: frozenset({"read", "upload", "withdraw", "export", "manage_users", "view_audit",
                      "manage_campaigns", "manage_targets", "publish", "manage_weeks",
                      "manage_contacts"}),
    LEADER: frozenset({"read", "export", "publish"}),
    REPORTER: frozenset({"read", "upload", "withdraw"}),
}
ALL_ROLES = frozenset(ROLES)


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    roles: frozenset[str]           # roles that see the page once login is on
    open_mode: bool = True          # shown when no account exists (everyone may change data)
    default: bool = False


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "进度总览", ":material/monitoring:", ALL_ROLES, default=True),
    PageSpec("pages/upload.py", "数据上报", ":material/upload_file:", frozenset({ADMIN, REPORTER})),
    PageSpec("pages/export.py", "通报导出", ":material/file_export:", frozenset({ADMIN, LEADER})),
    PageSpec("pages/remind.py", "催报", ":material/notifications_active:",
             frozenset({ADMIN, LEADER})),
    PageSpec("pages/targets.py", "目标任务", ":material/assignment:", frozenset({ADMIN})),
    PageSpec("pages/campaign_setup.py", "新建活动", ":material/add_location_alt:",
             frozenset({ADMIN})),
    PageSpec("pages/campaign.py", "活动设置", ":material/event:", frozenset({ADMIN})),
    PageSpec("pages/users.py", "账号管理", ":material/manage_accounts:", frozenset({ADMIN})),
    PageSpec("pages/audit.py", "操作日志", ":material/history:", frozenset({ADMIN})),
    PageSpec("pages/account.py", "我的账号", ":material/account_circle:", ALL_ROLES,
             open_mode=False),
)
LOGIN_PAGE = PageSpec("pages/login.py", "登录", ":material/login:", frozenset(), open_mode=False,
                      default=True)
ACCOUNT_PAGE = next(p for p in PAGES if p.path == "pages/account.py")


@dataclass(frozen=True)
class Viewer:
    """The person using this browser session: a logged-in user, or anyone in open mode."""
    user: User | None
    open_mode: bool
    token: str | None = None        # the session token (never shown)

    @property
    def logged_in(self) -> bool:
        return self.user is not None

    @property
    def role(self) -> str | None:
        return self.user.role if self.user else None

    @property
    def name(self) -> str | None:
        return self.user.name if self.user else None

    @property
    def scope(self) -> tuple[str, ...] | None:
        """Units whose figures this viewer may change (with descendants); None: any unit."""
        if self.user is None or self.user.role != REPORTER:
            return None
        return self.user.units

    def can(self, permission: str) -> bool:
        if self.open_mode:
            return True
        return self.user is not None and permission in PERMISSIONS.get(self.user.role, ())

    @property
    def label(self) -> str:
        if self.user is None:
            return "未登录"
        return f"{self.user.display} · {ROLE_LABELS.get(self.user.role, self.user.role)}"


def url_path(spec: PageSpec) -> str:
    """The page's address as Streamlit derives it from the file name (upload for pages/upload.py)."""
    return PurePosixPath(spec.path).stem


def stand_ins(viewer: Viewer) -> list[str]:
    """Addresses of other pages that show this viewer's only page instead.

    Logged out (or asked to change the password), a bookmark to /upload shows the login form at
    that address rather than Streamlit's "Page not found"; after login the same address opens
    the page itself when the role has it.
    """
    only = pages_for(viewer)
    if len(only) != 1:
        return []
    return [url_path(p) for p in PAGES if not p.default and p.path != only[0].path]


def refused(viewer: Viewer) -> list[PageSpec]:
    """The pages a logged-in viewer's role does not have.

    Their addresses (a bookmark, a link a colleague sent) answer with a Chinese refusal instead
    of Streamlit's English "Page not found"; the page itself never runs.
    """
    if not viewer.logged_in or viewer.open_mode or len(pages_for(viewer)) == 1:
        return []
    mine = {p.path for p in pages_for(viewer)}
    return [p for p in PAGES if p.path not in mine]


def pages_for(viewer: Viewer) -> list[PageSpec]:
    """The pages this viewer sees, in menu order (the login page alone when logged out)."""
    if viewer.open_mode:
        return [p for p in PAGES if p.open_mode]
    if viewer.user is None:
        return [LOGIN_PAGE]
    if viewer.user.must_change_password:
        return [ACCOUNT_PAGE]
    return [p for p in PAGES if viewer.user.role in p.roles]
