"""``python -m livereport`` runs the command line."""

from livereport.cli import main

main()
