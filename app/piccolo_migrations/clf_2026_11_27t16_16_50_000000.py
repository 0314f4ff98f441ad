"""Agreement constraints Piccolo cannot declare: one version row per proposal, one vote and one decision per
consumer and proposal, one agreement per claim and proposal, one phase per position."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T16:16:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "agreement unique pairs"

STATEMENTS = [
    'CREATE UNIQUE INDEX proposal_version_once ON proposal ("case", number, version)',
    "CREATE UNIQUE INDEX vote_once ON vote (proposal, consumer)",
    "CREATE UNIQUE INDEX decision_once ON decision (proposal, consumer)",
    "CREATE UNIQUE INDEX agreement_once ON agreement (proposal, claim)",
    'CREATE INDEX phase_case_position ON phase ("case", position)',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="clf", description=DESCRIPTION)

    async def run():
        from app.tables import Proposal

        engine = Proposal._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
