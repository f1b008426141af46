"""Driftwarden's engine: event -> ResourceChange -> read ARM -> checks -> decide -> act -> record.

Importing this package is cheap on purpose (no Azure SDK, no connection): the Functions host imports
function_app at cold start, and everything heavy is imported when first used.
"""
