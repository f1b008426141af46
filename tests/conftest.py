pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.azurite",
    "tests.support.ingestion",
]
