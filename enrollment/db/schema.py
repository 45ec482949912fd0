"""The schema: every table and view, as numbered migrations, and how a file is brought up to date.

Two views hold the rules of what counts, so that every query asks them instead of restating them:

* `figures`: the figure that counts for a unit at a date, per data source: the latest revision of
  (campaign, source, unit, date); a revision without a figure (a withdrawal) leaves none.
* `current_targets`: the task that counts for a unit: the row of the newest target set naming it.

A fresh PostgreSQL database is built by the same list of migrations: where the dialects differ,
a statement is a `Spelling` with both texts side by side (an empty one is nothing to do on
that engine).

What those views give at the campaign's week ends is also kept in tables (migration 5,
db/weekly.py): `weekly_figures`, `rolled_targets`, with `weekly_dates` and `weekly_marks` saying
for which calendar and which reports they were computed.

Size: the migrations are the schema's history and are never edited once released, so the
module grows by one tuple of statements per change; the code that applies them is the last
60 lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .engine import (
    NotInitialized,
    Session,
    Spelling,
    StorageError,
    Store,
    schema_version,
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str | Spelling, ...]


_CURRENT_TARGETS = """CREATE OR REPLACE VIEW current_targets AS
            SELECT t.campaign_id, t.unit_code, t.set_id, t.task, t.baseline,
                   t.registered_population, t.resident_population, t.low_income
            FROM targets t JOIN (
                SELECT campaign_id, unit_code, max(set_id) AS set_id FROM targets
                GROUP BY campaign_id, unit_code) n
              ON n.campaign_id = t.campaign_id AND n.unit_code = t.unit_code
             AND n.set_id = t.set_id"""

# Append new migrations at the end; never edit one that has been released.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", (
        """CREATE TABLE meta (
            key VARCHAR PRIMARY KEY,
            value VARCHAR NOT NULL)""",
        "INSERT INTO meta VALUES ('data_version', '0')",
        """CREATE TABLE campaigns (
            id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            programme VARCHAR NOT NULL,
            year INTEGER,
            region_code VARCHAR NOT NULL,
            levels VARCHAR[] NOT NULL,
            start_date DATE NOT NULL,
            end_date DATE NOT NULL,
            goal DECIMAL(6, 4) NOT NULL,
            low_income_goal DECIMAL(6, 4),
            deadline_weekday INTEGER NOT NULL,
            deadline_time TIME NOT NULL,
            contribution_yuan INTEGER,
            contribution_note VARCHAR,
            notice VARCHAR,
            source VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE units (
            campaign_id VARCHAR NOT NULL,
            code VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            parent_code VARCHAR,
            depth INTEGER NOT NULL,
            is_division BOOLEAN NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, code))""",
        """CREATE TABLE unit_aliases (
            campaign_id VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            code VARCHAR NOT NULL)""",
        "CREATE SEQUENCE upload_ids START 1",
        # Every file that reached the app, accepted or rejected, with its raw bytes.
        Spelling(*("""CREATE TABLE uploads (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            file_name VARCHAR,
            sha256 VARCHAR,
            size BIGINT,
            content {binary},
            uploader VARCHAR,
            uploaded_at TIMESTAMP NOT NULL,
            report_date DATE,
            status VARCHAR NOT NULL,
            messages VARCHAR,
            row_count INTEGER,
            unit_count INTEGER,
            total_enrolled BIGINT,
            on_time BOOLEAN,
            withdraws BIGINT)""".format(binary=t) for t in ("BLOB", "BYTEA"))),
        # Append-only: the latest revision of (campaign, source, unit, date) counts; a NULL
        # enrolled is a withdrawal (the figure no longer exists for that date).
        """CREATE TABLE reports (
            campaign_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            report_date DATE NOT NULL,
            revision INTEGER NOT NULL,
            enrolled BIGINT,
            amount DECIMAL(18, 2),
            low_income_enrolled BIGINT,
            upload_id BIGINT NOT NULL)""",
        "CREATE SEQUENCE target_set_ids START 1",
        """CREATE TABLE target_sets (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            scope_code VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            note VARCHAR,
            file_name VARCHAR,
            sha256 VARCHAR,
            upload_id BIGINT,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE targets (
            set_id BIGINT NOT NULL,
            campaign_id VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            task BIGINT NOT NULL,
            baseline BIGINT,
            registered_population BIGINT,
            resident_population BIGINT,
            low_income BIGINT,
            PRIMARY KEY (set_id, unit_code))""",
        # A unit's target is the row of the newest target set that names it. (PostgreSQL has
        # no arg_max: its spelling is migration 4's view, in standard SQL.)
        Spelling("""CREATE VIEW current_targets AS
            SELECT campaign_id, unit_code,
                   arg_max(set_id, set_id) AS set_id,
                   arg_max(task, set_id) AS task,
                   arg_max(baseline, set_id) AS baseline,
                   arg_max(registered_population, set_id) AS registered_population,
                   arg_max(resident_population, set_id) AS resident_population,
                   arg_max(low_income, set_id) AS low_income
            FROM targets GROUP BY campaign_id, unit_code""", _CURRENT_TARGETS),
    )),
    Migration(2, "accounts, login sessions and the audit log", (
        # Roles: admin, leader, reporter. A reporter's units are in user_units (codes, shared by
        # the campaigns whose hierarchies contain them).
        """CREATE TABLE users (
            name VARCHAR PRIMARY KEY,
            full_name VARCHAR,
            role VARCHAR NOT NULL,
            password_hash VARCHAR NOT NULL,
            active BOOLEAN NOT NULL,
            must_change_password BOOLEAN NOT NULL,
            failed_logins INTEGER NOT NULL,
            locked_until TIMESTAMP,
            created_at TIMESTAMP NOT NULL,
            created_by VARCHAR,
            updated_at TIMESTAMP,
            last_login_at TIMESTAMP)""",
        """CREATE TABLE user_units (
            user_name VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            PRIMARY KEY (user_name, unit_code))""",
        # A login: the cookie carries a signed random token, the table only its SHA-256.
        """CREATE TABLE sessions (
            token_hash VARCHAR PRIMARY KEY,
            user_name VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP,
            address VARCHAR)""",
        "CREATE SEQUENCE audit_ids START 1",
        # 操作日志: append-only from the app (enrollment/audit.py only inserts).
        """CREATE TABLE audit_log (
            id BIGINT PRIMARY KEY,
            logged_at TIMESTAMP NOT NULL,
            actor VARCHAR,
            role VARCHAR,
            action VARCHAR NOT NULL,
            detail VARCHAR,
            address VARCHAR,
            campaign_id VARCHAR)""",
    )),
    Migration(3, "login throttling per address and login locks per name and address", (
        # One row per address that failed to log in (enrollment/accounts.py keeps it that way;
        # no key constraint, as DuckDB refuses deleting and inserting one key in a transaction).
        """CREATE TABLE login_addresses (
            address VARCHAR NOT NULL,
            failures INTEGER NOT NULL,
            window_start TIMESTAMP NOT NULL,
            last_failure TIMESTAMP NOT NULL,
            blocked_until TIMESTAMP)""",
        # One row per (login name, address): the name as SHA-256 (unknown names too).
        """CREATE TABLE login_locks (
            name_hash VARCHAR NOT NULL,
            address VARCHAR NOT NULL,
            failures INTEGER NOT NULL,
            last_failure TIMESTAMP NOT NULL,
            locked_until TIMESTAMP)""",
        # users.failed_logins and users.locked_until are no longer used: a lock now belongs to
        # an address, not to the whole account.
        "UPDATE users SET failed_logins = 0, locked_until = NULL",
    )),
    Migration(4, "the counting rules as views every query asks", (
        # Revisions count 1, 2, 3 … per (campaign, source, unit, date): only the few keys with a
        # revision above 1 (corrections, withdrawals) need their maximum; every other row is
        # its key's only revision. A NULL figure (a withdrawal) leaves no figure for that date.
        """CREATE VIEW figures AS
            WITH corrected AS (
                SELECT campaign_id, source, unit_code, report_date, max(revision) AS revision
                FROM reports WHERE revision > 1
                GROUP BY campaign_id, source, unit_code, report_date)
            SELECT r.campaign_id, r.source, r.unit_code, r.report_date, r.enrolled, r.amount,
                   r.low_income_enrolled, r.upload_id, r.revision
            FROM reports r LEFT JOIN corrected c
              ON c.campaign_id = r.campaign_id AND c.source = r.source
             AND c.unit_code = r.unit_code AND c.report_date = r.report_date
            WHERE r.enrolled IS NOT NULL AND r.revision = coalesce(c.revision, 1)""",
        # The same view as in migration 1, in standard SQL (no arg_max).
        _CURRENT_TARGETS,
    )),
    Migration(5, "figures kept per week end, tasks kept per unit", (
        # The week ends the kept figures were computed for (db/weekly.py); a campaign without
        # rows here is not kept yet and views roll up from the reports; `init` and the app at
        # start build what is missing (metrics/weekly.py).
        """CREATE TABLE weekly_dates (
            campaign_id VARCHAR NOT NULL,
            week_end DATE NOT NULL,
            week_start DATE NOT NULL,
            prev_day DATE NOT NULL)""",
        # Per unit and week end, the figure that counts (own or the children's sum); no row for
        # a unit without one. No key constraint: rows are deleted and inserted again in one
        # transaction, which DuckDB refuses for a key. Rows are written in the order of
        # (week_end, parent_code, unit_code) and carry the unit's parent, so that a view (a unit
        # and its children at one week end) reads a few blocks of the table, not all of it.
        """CREATE TABLE weekly_figures (
            campaign_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            week_end DATE NOT NULL,
            parent_code VARCHAR,
            unit_code VARCHAR NOT NULL,
            enrolled BIGINT NOT NULL,
            enrolled_prev BIGINT,
            amount DECIMAL(18, 2),
            low_income_enrolled BIGINT,
            report_date DATE NOT NULL,
            reported_week BOOLEAN NOT NULL)""",
        # Per unit, the task that counts (own or the children's sum); no row for none.
        """CREATE TABLE rolled_targets (
            campaign_id VARCHAR NOT NULL,
            parent_code VARCHAR,
            unit_code VARCHAR NOT NULL,
            target BIGINT NOT NULL,
            baseline BIGINT,
            low_income_target BIGINT)""",
        # What the kept rows were computed from: the count and the highest upload (target set)
        # of the reports of a source ('reports:upload') or of the target rows ('targets'). A
        # view whose marks differ from the tables rolls up from the reports instead.
        """CREATE TABLE weekly_marks (
            campaign_id VARCHAR NOT NULL,
            what VARCHAR NOT NULL,
            row_count BIGINT NOT NULL,
            last_id BIGINT)""",
    )),
    Migration(6, "the Friday cycle: unit contacts, week locks and exceptions, published bulletins", (
        # 责任人 and phone per unit, for 催报; one row per unit (db/contacts.py keeps it so; no
        # key, as DuckDB refuses deleting and inserting one key in a transaction).
        """CREATE TABLE unit_contacts (
            campaign_id VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            person VARCHAR,
            phone VARCHAR,
            updated_by VARCHAR,
            updated_at TIMESTAMP NOT NULL)""",
        "CREATE SEQUENCE week_lock_ids START 1",
        # A week's figures locked (by publishing its bulletin, or by hand) until unlocked; the
        # week is named by its Friday. A later lock of the same week is a new row.
        """CREATE TABLE week_locks (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            week_end DATE NOT NULL,
            locked_by VARCHAR,
            locked_at TIMESTAMP NOT NULL,
            bulletin_id BIGINT,
            unlocked_by VARCHAR,
            unlocked_at TIMESTAMP,
            unlock_reason VARCHAR)""",
        "CREATE SEQUENCE week_exception_ids START 1",
        # One unit (and the units below it) may change a locked week's figures, for one lock.
        """CREATE TABLE week_exceptions (
            id BIGINT PRIMARY KEY,
            lock_id BIGINT NOT NULL,
            campaign_id VARCHAR NOT NULL,
            week_end DATE NOT NULL,
            unit_code VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            granted_by VARCHAR,
            granted_at TIMESTAMP NOT NULL,
            revoked_by VARCHAR,
            revoked_at TIMESTAMP)""",
        "CREATE SEQUENCE bulletin_ids START 1",
        # A published bulletin: the figures it shows (JSON) and, in bulletin_files, the exact
        # files circulated. The unique key makes publishing a period idempotent, also for two
        # servers whose timers fire at once: the second insert fails.
        """CREATE TABLE bulletins (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            period_key VARCHAR NOT NULL,
            as_of DATE NOT NULL,
            week INTEGER,
            source VARCHAR NOT NULL,
            scope_code VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            stem VARCHAR NOT NULL,
            published_by VARCHAR,
            role VARCHAR,
            published_at TIMESTAMP NOT NULL,
            automatic BOOLEAN NOT NULL,
            figures VARCHAR NOT NULL,
            summary VARCHAR NOT NULL,
            notes VARCHAR,
            UNIQUE (campaign_id, period, period_key))""",
        Spelling(*("""CREATE TABLE bulletin_files (
            bulletin_id BIGINT NOT NULL,
            position INTEGER NOT NULL,
            name VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            size BIGINT NOT NULL,
            content {binary} NOT NULL,
            PRIMARY KEY (bulletin_id, position))""".format(binary=t) for t in ("BLOB", "BYTEA"))),
        # Every push of a bulletin to a group robot, successful or not.
        """CREATE TABLE bulletin_pushes (
            bulletin_id BIGINT NOT NULL,
            channel VARCHAR NOT NULL,
            attempted_at TIMESTAMP NOT NULL,
            attempts INTEGER NOT NULL,
            ok BOOLEAN NOT NULL,
            message VARCHAR)""",
    )),
    Migration(7, "contribution terms, windows that move, figures and targets per group", (
        # The campaign's contribution per tier and group, subsidies and payment days, as JSON
        # text read by enrollment/campaigns/terms.py (no SQL reads inside it).
        "ALTER TABLE campaigns ADD COLUMN terms VARCHAR",
        "CREATE SEQUENCE window_change_ids START 1",
        # Every change of a window, kept: the campaign's own (unit_code NULL; campaigns keeps
        # the current start and end) or a unit's, which its subtree inherits. A unit row without
        # dates puts the unit back on the campaign's window. previous_* NULL: not known.
        """CREATE TABLE window_changes (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            unit_code VARCHAR,
            start_date DATE,
            end_date DATE,
            previous_start DATE,
            previous_end DATE,
            reason VARCHAR NOT NULL,
            changed_by VARCHAR,
            changed_at TIMESTAMP NOT NULL)""",
        # A unit's own window is its latest change, unless that one removed it.
        """CREATE VIEW unit_windows AS
            SELECT campaign_id, unit_code, start_date, end_date, reason, change_id FROM (
                SELECT DISTINCT ON (campaign_id, unit_code) campaign_id, unit_code, start_date,
                       end_date, reason, id AS change_id
                FROM window_changes WHERE unit_code IS NOT NULL
                ORDER BY campaign_id, unit_code, id DESC) latest
            WHERE start_date IS NOT NULL""",
        # A report's figures per group (分类人群), written with the report revision (same
        # upload); the view keeps those of the revision that counts (`figures`).
        """CREATE TABLE group_reports (
            campaign_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            report_date DATE NOT NULL,
            upload_id BIGINT NOT NULL,
            group_key VARCHAR NOT NULL,
            enrolled BIGINT,
            amount DECIMAL(18, 2))""",
        """CREATE VIEW group_figures AS
            SELECT f.campaign_id, f.source, f.unit_code, f.report_date, g.group_key,
                   g.enrolled, g.amount
            FROM figures f JOIN group_reports g
              ON g.campaign_id = f.campaign_id AND g.source = f.source
             AND g.unit_code = f.unit_code AND g.report_date = f.report_date
             AND g.upload_id = f.upload_id""",
        # A target set's population per group; the one that counts comes with the unit's task.
        """CREATE TABLE target_groups (
            set_id BIGINT NOT NULL,
            campaign_id VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            group_key VARCHAR NOT NULL,
            population BIGINT NOT NULL,
            PRIMARY KEY (set_id, unit_code, group_key))""",
        """CREATE VIEW current_group_targets AS
            SELECT g.campaign_id, g.unit_code, g.group_key, g.population, g.set_id
            FROM target_groups g JOIN current_targets t
              ON t.campaign_id = g.campaign_id AND t.unit_code = g.unit_code
             AND t.set_id = g.set_id""",
    )),
    Migration(8, "numbers of uploads and target sets per campaign; an account's last campaign; "
                 "a campaign's issuing bureau", (
        # The ids stay the keys; people see a number that counts within the campaign: uploads
        # per (campaign, source) in two series, Friday reports with their withdrawals, and
        # target-table files; target sets per campaign (第 1 版 …).
        "ALTER TABLE uploads ADD COLUMN number INTEGER",
        """UPDATE uploads SET number = n.number FROM (
               SELECT id, row_number() OVER (
                   PARTITION BY campaign_id, source, kind = 'targets' ORDER BY id) AS number
               FROM uploads) n
           WHERE uploads.id = n.id""",
        "ALTER TABLE target_sets ADD COLUMN number INTEGER",
        """UPDATE target_sets SET number = n.number FROM (
               SELECT id, row_number() OVER (PARTITION BY campaign_id ORDER BY id) AS number
               FROM target_sets) n
           WHERE target_sets.id = n.id""",
        # The campaign an account used last: the one it sees first at its next visit.
        "ALTER TABLE users ADD COLUMN last_campaign VARCHAR",
        # 发文机关署名 of the campaign's Word 通报稿 (e.g. 晋城市医疗保障局).
        "ALTER TABLE campaigns ADD COLUMN issuer VARCHAR",
    )),
    Migration(9, "indexes for a database server", tuple(Spelling("", statement) for statement in (
        # PostgreSQL plans by indexes (DuckDB scans its columns and keeps no others). The key
        # of a revision is unique: two writers that computed the same next revision (which
        # the advisory lock per campaign prevents) would fail rather than both count.
        "CREATE UNIQUE INDEX reports_key "
        "ON reports (campaign_id, source, unit_code, report_date, revision)",
        "CREATE INDEX reports_upload ON reports (upload_id)",
        "CREATE INDEX units_parent ON units (campaign_id, parent_code)",
        "CREATE INDEX unit_aliases_alias ON unit_aliases (campaign_id, alias)",
        "CREATE INDEX uploads_campaign ON uploads (campaign_id, source, kind)",
        "CREATE INDEX uploads_withdraws ON uploads (withdraws)",
        "CREATE INDEX targets_unit ON targets (campaign_id, unit_code, set_id)",
        "CREATE INDEX audit_log_time ON audit_log (logged_at)",
        "CREATE INDEX sessions_user ON sessions (user_name)",
    ))),
    Migration(10, "indexes for the kept figures on a database server",
              tuple(Spelling("", statement) for statement in (
        # Every write refreshes the kept rows of the units it touched (by unit) from their
        # children's (by parent); a view reads a unit and its children. DuckDB reads them in the
        # order they are written and needs none.
        "CREATE INDEX weekly_figures_unit "
        "ON weekly_figures (campaign_id, source, unit_code, week_end)",
        "CREATE INDEX weekly_figures_parent "
        "ON weekly_figures (campaign_id, source, parent_code, week_end)",
        "CREATE INDEX rolled_targets_unit ON rolled_targets (campaign_id, unit_code)",
        "CREATE INDEX rolled_targets_parent ON rolled_targets (campaign_id, parent_code)",
        "CREATE INDEX group_reports_key "
        "ON group_reports (campaign_id, source, unit_code, report_date, upload_id)",
    ))),
)

LATEST_VERSION = MIGRATIONS[-1].version


def migrate(store: Store, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring the schema up to the newest migration in one transaction; returns the versions
    applied. Two processes starting at once (two app servers) migrate one after the other."""
    with store.write(bump=False) as tx:
        return apply(tx, migrations)


def apply(tx: Session, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """The pending migrations, inside the caller's write transaction."""
    latest = migrations[-1].version
    tx.lock("schema")
    current = schema_version(tx)
    if current > latest:
        raise StorageError(
            f"数据库结构版本为 {current}，高于本程序支持的 {latest}，请升级程序后再打开。")
    applied = []
    for migration in migrations:
        if migration.version <= current:
            continue
        tx.run("""CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER NOT NULL, description VARCHAR NOT NULL,
            applied_at TIMESTAMP NOT NULL)""")
        for statement in migration.statements:
            if tx.text(statement):
                tx.run(statement)
        tx.run("INSERT INTO schema_version VALUES (:v, :d, now()::TIMESTAMP)",
               {"v": migration.version, "d": migration.description})
        applied.append(migration.version)
    return applied


def require_schema(store: Store) -> None:
    """Raise NotInitialized when the file has no schema; migrate an older one."""
    version = store.schema_version()
    if version == 0:
        raise NotInitialized(
            f"数据库 {store.name} 尚未初始化，请先运行：python -m enrollment init")
    if version < LATEST_VERSION:
        migrate(store)
