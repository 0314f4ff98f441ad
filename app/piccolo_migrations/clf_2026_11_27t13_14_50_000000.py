"""Constraints Piccolo cannot declare (unique pairs) and full-text search on cases, per engine."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T13:14:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique pairs and full-text search"

COMMON = [
    'CREATE UNIQUE INDEX claim_one_per_consumer ON claim ("case", consumer)',
    "CREATE UNIQUE INDEX company_member_once ON company_member (company, \"user\")",
    "CREATE INDEX notification_unread ON notification (\"user\", read_at)",
]

SQLITE = [
    # External-content FTS5 table over dispute_case.search_text, kept in sync by triggers.
    "CREATE VIRTUAL TABLE case_search USING fts5(search_text, content='dispute_case', content_rowid='id')",
    """CREATE TRIGGER case_search_insert AFTER INSERT ON dispute_case BEGIN
         INSERT INTO case_search(rowid, search_text) VALUES (new.id, new.search_text); END""",
    """CREATE TRIGGER case_search_delete AFTER DELETE ON dispute_case BEGIN
         INSERT INTO case_search(case_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END""",
    """CREATE TRIGGER case_search_update AFTER UPDATE OF search_text ON dispute_case BEGIN
         INSERT INTO case_search(case_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
         INSERT INTO case_search(rowid, search_text) VALUES (new.id, new.search_text); END""",
]

POSTGRES = [
    "CREATE INDEX case_search_gin ON dispute_case USING GIN (to_tsvector('simple', search_text))",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="clf", description=DESCRIPTION)

    async def run():
        from app.tables import Case

        engine = Case._meta.db
        statements = COMMON + (POSTGRES if engine.engine_type == "postgres" else SQLITE)
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
