"""The whole schema: importing every module that defines tables fills ``Base.metadata``."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from daqhub.core.db import Base

MODEL_MODULES = (
    "daqhub.core.auth",
    "daqhub.core.outbox",
    "daqhub.connectivity.models",
    "daqhub.receiver.models",
    "daqhub.monitor.models",
)


def metadata() -> MetaData:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside an existing module
                raise
    return Base.metadata
