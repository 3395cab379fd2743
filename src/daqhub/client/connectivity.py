"""Client of the connectivity service (the DAQ endpoint registry), speaking its original wire
format, so it works against daqhub and against the original server alike."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from daqhub.client.base import BaseClient, DaqhubClientError, response_body


@dataclass(frozen=True)
class Endpoint:
    uid: str
    uri: str
    data_type: str
    connection_type: int = 0
    capacity: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "uri": self.uri,
            "data_type": self.data_type,
            "connection_type": self.connection_type,
            "capacity": self.capacity,
        }


class PartitionNotFoundError(DaqhubClientError):
    """The partition (session) does not exist (HTTP 404)."""


class ConnectivityClient(BaseClient):
    """Publish, look up and retract endpoints of a partition."""

    def _post(self, path: str, body: dict[str, Any], method: str = "POST") -> Any:
        response = self.http.request(
            method,
            self.url + path,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self._auth_headers()},
        )
        if response.status_code == 404:
            raise PartitionNotFoundError(404, response_body(response), f"{path}: not found")
        if response.status_code != 200:
            raise DaqhubClientError(
                response.status_code,
                response_body(response),
                f"{path} answered {response.status_code}",
            )
        return response

    def publish(self, partition: str, endpoints: list[Endpoint]) -> None:
        self._post(
            "/publish", {"partition": partition, "connections": [e.to_wire() for e in endpoints]}
        )

    def lookup(self, partition: str, uid_regex: str, data_type: str) -> list[Endpoint]:
        response = self._post(
            f"/getconnection/{partition}", {"uid_regex": uid_regex, "data_type": data_type}
        )
        return [Endpoint(**item) for item in response.json()]

    def retract(self, partition: str, uids: list[str]) -> None:
        self._post(
            "/retract",
            {
                "partition": partition,
                "connections": [{"connection_id": u, "data_type": ""} for u in uids],
            },
        )

    def retract_partition(self, partition: str) -> None:
        self._post("/retract-partition", {"partition": partition})

    def partitions(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v1/partitions").json())
