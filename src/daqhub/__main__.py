"""``python -m daqhub`` is the ``daqhub`` command."""

from daqhub.cli.main import main

main()
