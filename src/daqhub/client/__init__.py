"""daqhub's Python client library: one client per service, no server dependencies.

It imports none of FastAPI, SQLAlchemy, uproot, h5py or astropy, so it installs light on DAQ
hosts; every client speaks its service's original wire format.
"""

from daqhub.client.base import BaseClient, DaqhubClientError
from daqhub.client.connectivity import ConnectivityClient, Endpoint, PartitionNotFoundError
from daqhub.client.monitor import MonitorClient, RestLogHandler
from daqhub.client.receiver import ChecksumError, ReceiverClient, ReceiverRejected, UploadResult

__all__ = [
    "BaseClient",
    "ChecksumError",
    "ConnectivityClient",
    "DaqhubClientError",
    "Endpoint",
    "MonitorClient",
    "PartitionNotFoundError",
    "ReceiverClient",
    "ReceiverRejected",
    "RestLogHandler",
    "UploadResult",
]
