"""Generic routes of every REST collection: ``/api/<path>/`` and ``/api/<path>/<key>/``.

Lists are a bare JSON array unless ``?limit=`` asks for the paginated envelope; every list
carries ``X-Total-Count``. Writes need credentials; reads are anonymous. A resource that is
read-only (namespaces) still authenticates writes first, so an anonymous POST is a 403 and an
authenticated one a 405, as in the original.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from daqhub.monitor import crud
from daqhub.monitor.api.auth import Policy
from daqhub.monitor.api.routing import Call, Endpoint, Routes, respond
from daqhub.monitor.listing import page_from, page_links
from daqhub.monitor.resource import Resource


def list_handler(
    res: Resource,
    *,
    cap: Callable[[Call], int | None] | None = None,
    before: Callable[[Call], None] | None = None,
) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        if before is not None:
            before(call)
        settings = call.state.settings
        page = page_from(call.query, settings.max_page_limit)
        listing = crud.list_objects(
            call.state.db,
            res,
            call.query,
            call.state.zone,
            page,
            cap=cap(call) if cap is not None else None,
        )
        headers = {"X-Total-Count": str(listing.count)}
        if listing.truncated:
            headers["X-Result-Truncated"] = "true"
        if page is None:
            return respond(listing.items, headers=headers)
        following, previous = page_links(
            call.page_base(), call.request.query_params.multi_items(), page, listing.count
        )
        body = {
            "count": listing.count,
            "next": following,
            "previous": previous,
            "results": listing.items,
        }
        return respond(body, headers=headers)

    return handle


def create_handler(res: Resource) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        obj, _ = crud.create_object(call.state.db, res, call.object_data(), call.state.parse)
        return respond(obj, 201)

    return handle


def retrieve_handler(res: Resource) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        return respond(crud.get_object(call.state.db, res, call.params["key"]))

    return handle


def update_handler(res: Resource, *, partial: bool) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        obj = crud.update_object(
            call.state.db,
            res,
            call.params["key"],
            call.object_data(),
            call.state.parse,
            partial=partial,
        )
        return respond(obj)

    return handle


def delete_handler(res: Resource) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        crud.delete_object(call.state.db, res, call.params["key"])
        return Response(status_code=204)

    return handle


def add_resource(
    routes: Routes,
    res: Resource,
    *,
    read: Policy = Policy.ANON,
    collection_extra: dict[str, Endpoint] | None = None,
    list_endpoint: Endpoint | None = None,
    body_limit: int | None = None,
) -> None:
    """Register the collection and detail routes of ``res``."""
    title = res.title
    collection: dict[str, Endpoint] = {"GET": list_endpoint or Endpoint(list_handler(res), read)}
    detail: dict[str, Endpoint] = {"GET": Endpoint(retrieve_handler(res), read)}
    if res.writable:
        collection["POST"] = Endpoint(create_handler(res), Policy.AUTH)
        detail["PUT"] = Endpoint(update_handler(res, partial=False), Policy.AUTH)
        detail["PATCH"] = Endpoint(update_handler(res, partial=True), Policy.AUTH)
        detail["DELETE"] = Endpoint(delete_handler(res), Policy.AUTH)
    collection.update(collection_extra or {})
    for path, name, endpoints in (
        (f"/api/{res.path}/", f"{title} List", collection),
        (f"/api/{res.path}/{{key}}/", f"{title} Instance", detail),
    ):
        routes.add(path, name, endpoints, body_limit=body_limit, resource=res)
