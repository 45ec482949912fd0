"""Every setting of the app in one declarative table.

A setting is read from its environment variable; the CLI's global options override the few that
have one (`--db`). The README documents each setting, and a test keeps the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    help: str

    def raw(self) -> str:
        value = os.environ.get(self.env, "").strip()
        return value or self.default


SETTINGS: tuple[Setting, ...] = (
    Setting("ENROLLMENT_DB", str(DATA_DIR / "enrollment.duckdb"),
            "The database: a DuckDB file's path, or a PostgreSQL URL "
            "(postgresql://user:password@host:5432/name) for several app servers (CLI: --db)."),
    Setting("ENROLLMENT_DATA_DIR", str(DATA_DIR),
            "Folder with the shipped reference data: campaigns/, targets/, divisions/."),
    Setting("ENROLLMENT_LOCK_TIMEOUT", "60",
            "Seconds to wait for the database file when another process holds it."),
    Setting("ENROLLMENT_TIMEZONE", "Asia/Shanghai",
            "Time zone of report deadlines and of times shown to users."),
    Setting("ENROLLMENT_MAX_UPLOAD_MB", "20",
            "Largest upload accepted, in MB."),
    Setting("ENROLLMENT_MAX_ROWS", "100000",
            "Most rows a sheet of an uploaded file may have (the largest province, Shandong, has "
            "62,074 villages and communities)."),
    Setting("ENROLLMENT_READ_TIMEOUT", "20",
            "Seconds an uploaded file may take to be read (in a child process) before it is refused."),
    Setting("ENROLLMENT_READ_MEMORY_MB", "768",
            "Address space, in MB, of the child process that reads an uploaded file; more is refused."),
    Setting("ENROLLMENT_OVER_TARGET_MARGIN", "0.10",
            "An upload whose enrolled count exceeds the target by more than this fraction warns."),
    Setting("ENROLLMENT_AMOUNT_MARGIN", "0.20",
            "An upload whose amount collected differs from the expected amount (enrolled × "
            "contribution per tier) by more than this fraction warns."),
    Setting("ENROLLMENT_JUMP_THRESHOLD", "0.10",
            "A weekly increase above this fraction of the target is flagged for leaders."),
    Setting("ENROLLMENT_SECRET", "",
            "Secret key that signs login cookies (at least 32 characters); overrides ENROLLMENT_SECRET_FILE."),
    Setting("ENROLLMENT_SECRET_FILE", str(DATA_DIR / "secret.key"),
            "File holding the cookie-signing secret; scripts/start.sh creates a random one (git-ignored) on first start."),
    Setting("ENROLLMENT_REQUIRE_LOGIN", "false",
            "true: always require login, even before the first account exists."),
    Setting("ENROLLMENT_TRUSTED_PROXIES", "",
            "Addresses of reverse proxies (comma-separated) whose X-Forwarded-For names the client "
            "for login throttling; empty: the connecting address counts."),
    Setting("ENROLLMENT_SESSION_HOURS", "12",
            "How long a login lasts (also across browser refreshes), in hours."),
    Setting("ENROLLMENT_CHROMIUM", "",
            "Chromium that renders exported images and PDFs (default: BROWSER_PATH, else chromium on PATH)."),
    Setting("ENROLLMENT_DB_MEMORY", "1GB",
            "Memory the database engine may use in one process before it spills to a temporary "
            "folder beside the file (DuckDB memory_limit, e.g. 512MB, 2GB)."),
    Setting("ENROLLMENT_DB_POOL", "10",
            "PostgreSQL only: most connections one process (an app server, a command) keeps open "
            "to the database server."),
    Setting("ENROLLMENT_DB_HOLD", "2",
            "Seconds a process keeps the database file open after its last use (0: close after "
            "every unit of work); another process that needs the file gets it at once."),
    Setting("ENROLLMENT_WECOM_WEBHOOK", "",
            "WeChat Work (企业微信) group robot webhook address (https://qyapi.weixin.qq.com/cgi-bin/"
            "webhook/send?key=…) that receives each published bulletin's summary and ranking "
            "image; empty: no push."),
    Setting("ENROLLMENT_DINGTALK_WEBHOOK", "",
            "DingTalk (钉钉) group robot webhook address (https://oapi.dingtalk.com/robot/send?"
            "access_token=…) that receives each published bulletin's summary; empty: no push."),
    Setting("ENROLLMENT_DINGTALK_SECRET", "",
            "The DingTalk robot's signing secret (SEC…, 加签): each push is sent to the webhook "
            "with timestamp and sign; empty: unsigned."),
    Setting("ENROLLMENT_PUSH_TIMEOUT", "10",
            "Seconds to wait for a group robot's answer before the attempt counts as failed."),
    Setting("ENROLLMENT_PUSH_RETRIES", "2",
            "How many times a failed push (no answer, a server error, a busy robot) is tried "
            "again, waiting ENROLLMENT_PUSH_RETRY_SECONDS, then twice as long each time."),
    Setting("ENROLLMENT_PUSH_RETRY_SECONDS", "3",
            "Seconds before the first retry of a failed push."),
    Setting("ENROLLMENT_APP_URL", "",
            "The app's address as users open it (e.g. http://10.1.2.3:8501); pushed summaries "
            "link to the week's overview there; empty: no link."),
)

_BY_ENV = {s.env: s for s in SETTINGS}


def get(env: str) -> str:
    """The current value of a setting, by its environment variable name."""
    return _BY_ENV[env].raw()


def db_target() -> str:
    """ENROLLMENT_DB as given: a file path, or a postgresql:// URL."""
    value = get("ENROLLMENT_DB")
    return value if value.startswith(("postgresql://", "postgres://")) else str(
        Path(value).expanduser())


def db_path() -> Path:
    """ENROLLMENT_DB as a file path (DuckDB)."""
    return Path(get("ENROLLMENT_DB")).expanduser()


def data_dir() -> Path:
    return Path(get("ENROLLMENT_DATA_DIR")).expanduser()


def lock_timeout() -> float:
    return float(get("ENROLLMENT_LOCK_TIMEOUT"))


def timezone() -> str:
    return get("ENROLLMENT_TIMEZONE")


def max_upload_bytes() -> int:
    return int(float(get("ENROLLMENT_MAX_UPLOAD_MB")) * 1024 * 1024)


def max_rows() -> int:
    return int(get("ENROLLMENT_MAX_ROWS"))


def read_timeout() -> float:
    return float(get("ENROLLMENT_READ_TIMEOUT"))


def read_memory_bytes() -> int:
    return int(float(get("ENROLLMENT_READ_MEMORY_MB")) * 1024 * 1024)


def over_target_margin() -> float:
    return float(get("ENROLLMENT_OVER_TARGET_MARGIN"))


def amount_margin() -> float:
    return float(get("ENROLLMENT_AMOUNT_MARGIN"))


def jump_threshold() -> float:
    return float(get("ENROLLMENT_JUMP_THRESHOLD"))


class SettingError(ValueError):
    """A setting has an unusable value (message in Chinese)."""


MIN_SECRET_LENGTH = 32


def secret() -> str | None:
    """The cookie-signing secret: ENROLLMENT_SECRET, else the secret file; None when neither."""
    value = os.environ.get("ENROLLMENT_SECRET", "").strip()
    origin = "ENROLLMENT_SECRET"
    if not value:
        path = Path(get("ENROLLMENT_SECRET_FILE")).expanduser()
        if not path.is_file():
            return None
        value = path.read_text(encoding="utf-8").strip()
        origin = f"密钥文件 {path}"
    if len(value) < MIN_SECRET_LENGTH:
        raise SettingError(f"{origin} 中的密钥太短（至少 {MIN_SECRET_LENGTH} 个字符），"
                           "请用随机生成的长密钥。")
    return value


def require_login() -> bool:
    return get("ENROLLMENT_REQUIRE_LOGIN").lower() in ("1", "true", "yes", "on")


def trusted_proxies() -> frozenset[str]:
    return frozenset(p.strip() for p in get("ENROLLMENT_TRUSTED_PROXIES").split(",") if p.strip())


def session_hours() -> float:
    return float(get("ENROLLMENT_SESSION_HOURS"))

def db_memory() -> str:
    return get("ENROLLMENT_DB_MEMORY")


def db_pool() -> int:
    return max(2, int(get("ENROLLMENT_DB_POOL")))


def db_hold() -> float:
    return float(get("ENROLLMENT_DB_HOLD"))


def wecom_webhook() -> str:
    return get("ENROLLMENT_WECOM_WEBHOOK")


def dingtalk_webhook() -> str:
    return get("ENROLLMENT_DINGTALK_WEBHOOK")


def dingtalk_secret() -> str:
    return get("ENROLLMENT_DINGTALK_SECRET")


def push_timeout() -> float:
    return float(get("ENROLLMENT_PUSH_TIMEOUT"))


def push_retries() -> int:
    return max(0, int(get("ENROLLMENT_PUSH_RETRIES")))


def push_retry_seconds() -> float:
    return max(0.0, float(get("ENROLLMENT_PUSH_RETRY_SECONDS")))


def app_url() -> str:
    return get("ENROLLMENT_APP_URL").rstrip("/")
