"""Models and migrations agree: `piccolo migrations new clf --auto` would find nothing to write."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.columns import Varchar
from piccolo.conf.apps import AppConfig
from piccolo.table import TABLE_REGISTRY, Table, create_table_class

import app.tables
from app.piccolo_app import APP_CONFIG


async def pending_changes(tables: list[type[Table]]) -> list[str]:
    """The statements an auto migration would hold for these tables, computed as Piccolo's own command does:
    the schema the committed migrations build up, compared with the tables (never asking about renames)."""
    config = AppConfig(app_name=APP_CONFIG.app_name, migrations_folder_path=APP_CONFIG.migrations_folder_path,
                       table_classes=tables)
    alter_statements = await AutoMigrationManager(auto_input="n").get_alter_statements(app_config=config)
    return list(chain.from_iterable(alter.statements for alter in alter_statements))


@pytest.fixture
def company_with_a_new_column() -> Iterator[type[Table]]:
    """The Company table with one column more than its migrations give it."""
    company = app.tables.Company
    columns = {column._meta.name: column.copy() for column in company._meta.non_default_columns}
    changed = create_table_class("Company", class_kwargs={"tablename": company._meta.tablename},
                                 class_members={**columns, "loyalty_level": Varchar(length=20, default="")})
    yield changed
    TABLE_REGISTRY.remove(changed)  # Piccolo's registry of every table class: leave it as it was


async def test_the_migrations_build_exactly_the_current_tables() -> None:
    assert APP_CONFIG.table_classes, "no table found"

    changes = await pending_changes(APP_CONFIG.table_classes)

    assert changes == [], "models and migrations disagree; run `piccolo migrations new clf --auto`:\n" + "\n".join(
        changes)


async def test_a_column_without_its_migration_is_found(company_with_a_new_column: type[Table]) -> None:
    # Given the tables, one of which has a column no migration adds
    tables = [company_with_a_new_column if table is app.tables.Company else table
              for table in APP_CONFIG.table_classes]
    assert company_with_a_new_column in tables

    # When the auto migration is computed
    changes = await pending_changes(tables)

    # Then it adds that column
    assert [change for change in changes if "add_column" in change and "'loyalty_level'" in change], changes
