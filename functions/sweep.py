"""Timer trigger: the reconciliation sweep (warden/sweep.py) on a schedule.

The schedule is the app setting `DRIFTWARDEN_SWEEP_SCHEDULE` (an NCRONTAB expression with seconds, e.g.
`0 0 */6 * * *`), bound as `%DRIFTWARDEN_SWEEP_SCHEDULE%` so changing it needs no deployment. When the setting is
absent the function is indexed with the default, every 6 hours: the worker reads the app settings from its
environment when it indexes the functions, and a `%...%` expression naming a missing setting would stop the host.
The timer trigger runs as a singleton across instances (its blob lease), so two scheduled sweeps never overlap.

Importing this module imports no Azure SDK and opens no connection: the sweep is imported on first run.
"""
from __future__ import annotations

import logging
import os

import azure.functions as func

SCHEDULE_SETTING = "DRIFTWARDEN_SWEEP_SCHEDULE"
DEFAULT_SCHEDULE = "0 0 */6 * * *"  # every 6 hours, on the hour


def schedule(environ=None) -> str:
    env = os.environ if environ is None else environ
    return f"%{SCHEDULE_SETTING}%" if (env.get(SCHEDULE_SETTING) or "").strip() else DEFAULT_SCHEDULE


bp = func.Blueprint()


@bp.function_name("sweep_timer")
@bp.timer_trigger(arg_name="timer", schedule=schedule(), run_on_startup=False, use_monitor=True)
def sweep_timer(timer: func.TimerRequest) -> None:
    from warden.sweep import run_scheduled  # imported on first invocation, not at cold start

    if timer.past_due:
        logging.getLogger("driftwarden.sweep").warning("sweep timer is past due: running now")
    run_scheduled(past_due=bool(timer.past_due))
