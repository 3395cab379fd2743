"""daqhub's Python client library: one client per service, no server dependencies."""

from daqhub.client.base import BaseClient, DaqhubClientError
from daqhub.client.connectivity import ConnectivityClient, Endpoint, PartitionNotFoundError

__all__ = [
    "BaseClient",
    "ConnectivityClient",
    "DaqhubClientError",
    "Endpoint",
    "PartitionNotFoundError",
]
