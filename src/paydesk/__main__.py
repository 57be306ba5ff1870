"""``python -m paydesk`` is the ``paydesk`` command."""

from paydesk.cli import main

main()
