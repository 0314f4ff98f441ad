"""The Piccolo app: every table of the project and its migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="clf",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["app.tables"], exclude_imported=False),
    migration_dependencies=[],
    commands=[],
)
