"""The styled error page (404 and 405 outside the JSON API: an unknown /ui page, a job that is not there or not
yours, any other path) and the favicon, served at /favicon.ico where browsers look for it."""

from __future__ import annotations

from flask import Response, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, NotFound

from webhook.dashboard.blueprint import dashboard

HTML_ERROR_PAGE = "hookline.html_error_page"  # webhook.api.errors looks this up for paths outside /v1 and /hooks
GONE = {404: "Nothing here", 405: "Not allowed here"}


def error_page(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    body = render_template("dashboard/error.html", code=code, title=GONE.get(code, exc.name), path=request.path,
                           description=exc.description if code != 404 else None)
    response = Response(body, status=code, mimetype="text/html")
    for name, value in exc.get_headers():  # Allow, for a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@dashboard.errorhandler(NotFound)
def not_found_in_a_page(exc: NotFound) -> ResponseReturnValue:
    return error_page(exc)


def favicon() -> ResponseReturnValue:
    response = dashboard.send_static_file("favicon.svg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@dashboard.record_once
def install(state: BlueprintSetupState) -> None:
    state.app.extensions[HTML_ERROR_PAGE] = error_page
    state.app.add_url_rule("/favicon.ico", "favicon", favicon, methods=["GET"])
