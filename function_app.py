"""Azure Functions entry point (Python v2 programming model): registers the trigger blueprints.

Kept cheap to import: no Azure management SDK, identity or telemetry import and no connection here.
"""
import azure.functions as func

from functions.eventgrid import bp as eventgrid_blueprint
from functions.sweep import bp as sweep_blueprint
from functions.tickets import bp as tickets_blueprint
from functions.approve import bp as approve_blueprint

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(eventgrid_blueprint)
app.register_functions(sweep_blueprint)
app.register_functions(tickets_blueprint)
app.register_functions(approve_blueprint)
