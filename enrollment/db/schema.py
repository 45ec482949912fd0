"""The schema: every table and view, as numbered migrations, and how a file is brought up to date.

Two views hold the rules of what counts, so that every query asks them instead of restating them:

* `figures`: the figure that counts for a unit at a date, per data source: the latest revision of
  (campaign, source, unit, date); a revision without a figure (a withdrawal) leaves none.
* `current_targets`: the task that counts for a unit: the row of the newest target set naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from .engine import (
    NotInitialized,
    StorageError,
    Store,
    raise_explained,
    rollback,
    schema_version,
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


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
        """CREATE TABLE uploads (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            file_name VARCHAR,
            sha256 VARCHAR,
            size BIGINT,
            content BLOB,
            uploader VARCHAR,
            uploaded_at TIMESTAMP NOT NULL,
            report_date DATE,
            status VARCHAR NOT NULL,
            messages VARCHAR,
            row_count INTEGER,
            unit_count INTEGER,
            total_enrolled BIGINT,
            on_time BOOLEAN,
            withdraws BIGINT)""",
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
        # A unit's target is the row of the newest target set that names it.
        """CREATE VIEW current_targets AS
            SELECT campaign_id, unit_code,
                   arg_max(set_id, set_id) AS set_id,
                   arg_max(task, set_id) AS task,
                   arg_max(baseline, set_id) AS baseline,
                   arg_max(registered_population, set_id) AS registered_population,
                   arg_max(resident_population, set_id) AS resident_population,
                   arg_max(low_income, set_id) AS low_income
            FROM targets GROUP BY campaign_id, unit_code""",
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
        """CREATE OR REPLACE VIEW current_targets AS
            SELECT t.campaign_id, t.unit_code, t.set_id, t.task, t.baseline,
                   t.registered_population, t.resident_population, t.low_income
            FROM targets t JOIN (
                SELECT campaign_id, unit_code, max(set_id) AS set_id FROM targets
                GROUP BY campaign_id, unit_code) n
              ON n.campaign_id = t.campaign_id AND n.unit_code = t.unit_code
             AND n.set_id = t.set_id""",
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
)

LATEST_VERSION = MIGRATIONS[-1].version


def migrate(store: Store, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring the schema up to the newest migration; returns the versions applied."""
    latest = migrations[-1].version
    with store.exclusive() as tx:
        current = schema_version(tx)
        if current > latest:
            raise StorageError(
                f"数据库结构版本为 {current}，高于本程序支持的 {latest}，请升级程序后再打开。")
        applied = []
        for migration in migrations:
            if migration.version <= current:
                continue
            tx.raw.begin()
            try:
                tx.run("""CREATE TABLE IF NOT EXISTS schema_version (
                    version INTEGER NOT NULL, description VARCHAR NOT NULL,
                    applied_at TIMESTAMP NOT NULL)""")
                for statement in migration.statements:
                    tx.run(statement)
                tx.run("INSERT INTO schema_version VALUES (:v, :d, now()::TIMESTAMP)",
                       {"v": migration.version, "d": migration.description})
                tx.raw.commit()
            except duckdb.Error as exc:
                rollback(tx.raw)
                raise_explained(exc, store.path)
                raise
            except BaseException:
                rollback(tx.raw)
                raise
            applied.append(migration.version)
        if applied:
            tx.checkpoint()
        return applied


def require_schema(store: Store) -> None:
    """Raise NotInitialized when the file has no schema; migrate an older one."""
    version = store.schema_version()
    if version == 0:
        raise NotInitialized(
            f"数据库 {store.path} 尚未初始化，请先运行：python -m enrollment init")
    if version < LATEST_VERSION:
        migrate(store)
