"""The Functions app as the host indexes it. `get_functions()` may be called once per app instance, so the
index is built once per session and shared."""
from __future__ import annotations

import functools

import pytest


@functools.cache
def _index():
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


@pytest.fixture(scope="session")
def app_functions():
    """{function name: the indexed function} (`.get_user_function()` is the callable the host invokes)."""
    return _index()
