"""Piccolo's configuration: the engine comes from DATABASE_URL (SQLite file under var/ when unset)."""

from piccolo.conf.apps import AppRegistry

from app.platform.db import make_engine
from app.settings import get_settings

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(apps=["app.piccolo_app"])
