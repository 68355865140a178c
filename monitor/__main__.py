"""`python -m monitor`: the same as the `monitor` console script."""

from monitor.cli import main

main()
