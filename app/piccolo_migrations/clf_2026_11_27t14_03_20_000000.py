"""Room constraints Piccolo cannot declare: one message per (space, seq), one row per (case, user) pair, and the
keyset index the history pages walk."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T14:03:20:000000"
VERSION = "1.38.0"
DESCRIPTION = "room unique pairs and keyset index"

STATEMENTS = [
    "CREATE UNIQUE INDEX message_space_seq ON message (space, seq)",
    'CREATE UNIQUE INDEX message_client_key ON message (author, client_key) WHERE client_key <> \'\'',
    'CREATE UNIQUE INDEX charter_once ON charter_acceptance ("case", "user")',
    'CREATE UNIQUE INDEX space_read_once ON space_read (space, "user")',
    'CREATE UNIQUE INDEX pseudonym_user_once ON pseudonym ("case", "user")',
    'CREATE UNIQUE INDEX pseudonym_name_once ON pseudonym ("case", name)',
    'CREATE INDEX mute_case_user ON mute ("case", "user", until)',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="clf", description=DESCRIPTION)

    async def run():
        from app.tables import Message

        engine = Message._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
